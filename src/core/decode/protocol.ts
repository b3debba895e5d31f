// Types shared by the decode worker and its page-side client (no code: both sides import it).
import type { HeadName, Manifest, TensorRef } from '../bundle/manifest.ts';
import type { HeadNormalization } from './decodeCondition.ts';
import type { BundleSourceSpec, ProgressReport } from '../bundle/protocol.ts';

export type { BundleSourceSpec, HeadNormalization, ProgressReport };

export type BackendName = 'webgpu' | 'wasm' | 'cpu' | 'js';

export interface DecodeRequest {
  subject: number;
  /** Indices into manifest.trials (all of the same subject). */
  trials: number[];
  heads: HeadName[];
  /** true: average the trials' betas first and decode one row; false: decode each trial. */
  average: boolean;
  /**
   * MIRAGE's prediction normalisation. When set, `trials`/`average` are ignored: the worker decodes
   * the condition with src/core/decode/decodeCondition.ts (every stimulus of the subject in
   * `condition`, repeats averaged per stimulus, each head normalised over that batch, raw with a
   * `missing` reason when it has no training-target statistics) and returns only the row of
   * `stimulus` (rows = 1).
   */
  normalize?: { stimulus: number; condition: 'vision' | 'imagery' };
}


export interface DecodeNormalization {
  subject: number;
  condition: 'vision' | 'imagery';
  /** The stimulus whose row is returned. */
  stimulus: number;
  /** Stimulus ids of the batch rows, in order, and how many repeats each row averages. */
  stimuli: number[];
  repeats: number[];
  /** Human-readable: which batch was used. */
  description: string;
  heads: Partial<Record<HeadName, HeadNormalization>>;
}

export interface HeadPrediction {
  /** Row-major [rows, ...outputShape]. */
  values: Float32Array;
  rows: number;
  outputShape: number[];
}

export interface DecodeResponse {
  backend: BackendName;
  trials: number[];
  averaged: boolean;
  /** Present when the request asked for normalisation. */
  normalization?: DecodeNormalization;
  predictions: Partial<Record<HeadName, HeadPrediction>>;
  timing: {
    /** Milliseconds reading betas (network/cache + float16 decode). */
    betasMs: number;
    /** Milliseconds loading and uploading heads not yet on the backend. */
    headsMs: number;
    /** Milliseconds in backend.predict for all heads. */
    predictMs: number;
  };
}

export interface IdentifyRequest {
  /** The decoded embedding (one row of the head's output). */
  query: Float32Array;
  head: HeadName;
  /** Feature set name in the manifest ("stimuli" or "gallery"). */
  set: string;
}

export interface IdentifyResponse {
  /** Candidates best first: id (stimulus id / gallery index) and cosine similarity. */
  ranked: Array<{ id: number; row: number; score: number }>;
  set: string;
  head: HeadName;
}

export interface DecodeWorkerApi {
  open(source: BundleSourceSpec, onProgress?: (p: ProgressReport) => void): Promise<Manifest>;
  /** Starts the first backend of `order` that works and returns its name. */
  initBackend(order: BackendName[]): Promise<BackendName>;
  decode(req: DecodeRequest): Promise<DecodeResponse>;
  identify(req: IdentifyRequest): Promise<IdentifyResponse>;
  /** One tensor of the open bundle (images, ROI voxel lists, surfaces, ...). */
  tensor(ref: TensorRef): Promise<Float32Array | Uint8Array | Int32Array | Uint32Array | Uint16Array>;
  /** Betas of trials, averaged when more than one is given ([voxelCount] float32). */
  betas(trials: number[]): Promise<Float32Array>;
}

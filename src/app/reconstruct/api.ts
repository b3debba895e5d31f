// Types shared by workers/generate.worker.ts and the reconstruct panel (no code).
import type { GenerateProgress, GenerateSettings, PipelineStage } from '../../core/generate/pipeline.ts';
import type { RgbImage } from '../../core/generate/enhance.ts';
import type { ReconstructRequest, ServiceInfo } from '../../core/generate/service.ts';
import type { BundleSourceSpec } from '../workerApi.ts';

export type { GenerateProgress, GenerateSettings, RgbImage, ReconstructRequest, ServiceInfo, PipelineStage };

/** Where the model pack is: a URL, or the picked bundle files under a folder prefix. */
export type PackSourceSpec = { kind: 'url'; url: string } | { kind: 'files'; prefix: string; files: Map<string, Blob> };

export interface ReconstructReply {
  request: ReconstructRequest;
  executionProvider: 'webgpu' | 'wasm';
  /** Stages moved to wasm because a WebGPU kernel failed, with the error. */
  stageFallbacks: Record<string, string>;
  decoding: string;
  lowLevel: RgbImage | null;
  enhanced: RgbImage | null;
  candidates: RgbImage[];
  scores: number[];
  best: number;
  caption: string;
  trueCaption: string;
  settings: GenerateSettings;
  timings: Record<PipelineStage, number>;
}

export interface GenerateWorkerApi {
  open(bundle: BundleSourceSpec, pack: PackSourceSpec, preferWebgpu: boolean, onProgress?: (loaded: number, total: number, file: string) => void): Promise<ServiceInfo>;
  reconstruct(req: ReconstructRequest, onProgress?: (p: GenerateProgress) => void, onLowLevel?: (low: RgbImage, enhanced: RgbImage) => void): Promise<ReconstructReply>;
  cancel(): void;
}

// Types shared by workers/generate.worker.ts and the reconstruct panel (no code but one constant).
import type { GenerateProgress, GenerateSettings, PipelineStage } from '../../core/generate/pipeline.ts';
import type { RgbImage } from '../../core/generate/enhance.ts';
import type { ReconstructRequest, ServiceInfo } from '../../core/generate/service.ts';
import type { BundleSourceSpec } from '../workerApi.ts';

export type { GenerateProgress, GenerateSettings, RgbImage, ReconstructRequest, ServiceInfo, PipelineStage };

/**
 * An image ready to draw: the worker converts the pipeline's RGB bytes to RGBA and scales them to
 * display size (at most DISPLAY_MAX px a side) into an ImageBitmap, transferred to the page, so the
 * page's main thread does no pixel work (it only calls drawImage).
 */
export interface DisplayImage {
  bitmap: ImageBitmap;
  /** The pipeline's image size (e.g. 64 low-level, 1024 enhanced, 128 candidates). */
  width: number;
  height: number;
}

/** Largest side of a DisplayImage's bitmap (the panel draws at most 192 CSS px). */
export const DISPLAY_MAX = 256;

/** Where the model pack is: a URL, or the picked bundle files under a folder prefix. */
export type PackSourceSpec = { kind: 'url'; url: string } | { kind: 'files'; prefix: string; files: Map<string, Blob> };

export interface ReconstructReply {
  request: ReconstructRequest;
  executionProvider: 'webgpu' | 'wasm';
  /** Stages moved to wasm because a WebGPU kernel failed, with the error. */
  stageFallbacks: Record<string, string>;
  decoding: string;
  lowLevel: DisplayImage | null;
  enhanced: DisplayImage | null;
  candidates: DisplayImage[];
  scores: number[];
  best: number;
  caption: string;
  trueCaption: string;
  settings: GenerateSettings;
  timings: Record<PipelineStage, number>;
}

export interface GenerateWorkerApi {
  open(bundle: BundleSourceSpec, pack: PackSourceSpec, preferWebgpu: boolean, onProgress?: (loaded: number, total: number, file: string) => void): Promise<ServiceInfo>;
  reconstruct(req: ReconstructRequest, onProgress?: (p: GenerateProgress) => void, onLowLevel?: (low: DisplayImage, enhanced: DisplayImage) => void): Promise<ReconstructReply>;
  cancel(): void;
}

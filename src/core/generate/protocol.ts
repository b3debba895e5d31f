// Types shared by workers/generate.worker.ts, the reconstruct panel and the cortex panel (no code
// but one constant and one helper).
//
// RECONSTRUCTION FROM A PERTURBED STATE (issue 4), the exact call from the cortex panel:
//
//   reconstructPerturbed (src/app/reconstruct/client.ts):
//   const reply = await reconstructPerturbed(location /* useBundleStore's location */, {
//     subject: 1, stimulus: 7, condition: 'imagery',
//     headDeltas: { image: dImage, text: dText, blurry: dBlurry, retrieval: dRetrieval, prompt: dPrompt },
//     deltaLabel: 'silence V1 (gain 0)',
//     settings: { seed: 0 },                      // optional; MIRAGE_DEFAULTS otherwise
//   }, { preferWebgpu: true, onProgress });        // opens the worker on the bundle if needed
//   reply.perturbed   // "silence V1 (gain 0): Δ added to image, text, …" (null when no deltas)
//   reply.candidates[reply.best].bitmap, reply.caption, reply.scores …  (as for any reconstruction)
//
// (or, with the worker already open: runReconstruction(req, onProgress?, onLowLevel?).)
//
// headDeltas[h] is the RAW change of stimulus `stimulus`'s prediction of head h, i.e. exactly what
// the cortex computes as (dx_R·A_R)·B — the same units as predictHead (src/core/decode/predict.ts)
// before any MIRAGE normalisation, one Float32Array of the head's output size (image 768-like,
// text 77x1280-like, … flattened C-order; the bundle head's outputShape). Heads left out get no change.
// The worker maps each delta through the per-output-dimension affine map MIRAGE's normalisation
// applied to this stimulus's prediction — Δ' = Δ · targetStd / batchStd (batchStd: population std
// of that dimension over the condition's stimulus averages; 0 where the batch std is 0, since
// normalisation maps that dimension to the target mean whatever the prediction) — adds Δ' to the
// decoded, repeat-averaged, normalised heads (before the per-token L2 norm of 'l2-token' heads,
// which is then re-applied as the decoder does), and reconstructs. Zero deltas reproduce the
// unperturbed reconstruction exactly (same seed). The Float32Arrays are TRANSFERRED to the worker:
// the caller's arrays are detached after the call (pass copies if you still need them).
import type { GenerateProgress, GenerateSettings, PipelineStage } from './pipeline.ts';
import type { RgbImage } from '../base/image.ts';
import type { HeadDeltas, ReconstructRequest, ServiceInfo, StageInfo, StagePlacement, StageProvenance } from './service.ts';
import type { PackFileProgress } from './packOpen.ts';
import type { PrecisionSetting } from './precision.ts';
import type { BundleSourceSpec } from '../decode/protocol.ts';

export type { GenerateProgress, GenerateSettings, HeadDeltas, PackFileProgress, PrecisionSetting, RgbImage, ReconstructRequest, ServiceInfo, StageInfo, StageProvenance, PipelineStage };

/** The buffers of a request's head deltas (to transfer, not copy, to the worker); each buffer once. */
export function headDeltaBuffers(req: ReconstructRequest): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const d of Object.values(req.headDeltas ?? {})) if (d && d.buffer instanceof ArrayBuffer && d.buffer.byteLength) out.add(d.buffer);
  return [...out];
}

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
  /** Which pack made it, and per stage its pack, precision (float32/float16) and placement. */
  modelPack: { name: string; kind: string; stages: StageProvenance };
  /** Stages moved to wasm because a WebGPU kernel failed, with the error. */
  stageFallbacks: Record<string, string>;
  decoding: string;
  /** null, or what perturbed the decoded heads (the request's deltaLabel and how the deltas were applied). */
  perturbed: string | null;
  lowLevel: DisplayImage | null;
  enhanced: DisplayImage | null;
  candidates: DisplayImage[];
  scores: number[];
  best: number;
  caption: string;
  trueCaption: string;
  settings: GenerateSettings;
  timings: Record<PipelineStage, number>;
  /** Which sampler ran and what crossed between CPU and GPU (pipeline.ts, docs/model-packs.md). */
  sampler: 'graphs' | 'typescript';
  transfers: { uploads: number; uploadBytes: number; downloads: number; downloadBytes: number; gpuHandoffs: number; stepGraphRuns: number };
}

export interface GenerateWorkerApi {
  /**
   * `placement` (with preferWebgpu): 'fastest' leaves a CPU-emulated WebGPU adapter for wasm, 'webgpu'
   * keeps WebGPU for every stage. `precision`: which build of each stage to load (default 'auto').
   * Progress is per file and in total; cancelOpen() stops the download (cached files and chunks stay).
   */
  open(bundle: BundleSourceSpec, pack: PackSourceSpec, preferWebgpu: boolean, onProgress?: (p: PackFileProgress) => void, placement?: StagePlacement, precision?: PrecisionSetting): Promise<ServiceInfo>;
  cancelOpen(): void;
  reconstruct(req: ReconstructRequest, onProgress?: (p: GenerateProgress) => void, onLowLevel?: (low: DisplayImage, enhanced: DisplayImage) => void): Promise<ReconstructReply>;
  cancel(): void;
}

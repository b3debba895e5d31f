// Where a reconstruction's tensors live between stages, and who does the sampler's arithmetic. The
// stage loop (pipeline.ts) is written once against TensorHome; two homes implement it:
// - CpuHome (cpuHome.ts, sampler 'typescript'): every stage output comes back to a CPU tensor and
//   the sampler, the img2img noising, the CFG padding and the retrieval scores run in TypeScript
//   (sampler.ts). The default on wasm, where a graph run per step costs more than the arithmetic.
// - GraphHome (graphHome.ts, sampler 'graphs'): the same arithmetic as small ONNX step graphs
//   (gpuSteps.ts) placed where the consuming stage runs, so under WebGPU the latents stay on the
//   device from the latent encoder to the pixel decoder. The default when a denoiser is on WebGPU.
// Both hand runtime tensors (ort.Tensor) around: CPU tensors in CpuHome, CPU or GPU ones in
// GraphHome. Each operation names the stage whose placement decides where it runs. The tensors a
// home returns are the caller's: `Transfers` (transfers.ts, shared with the home) brings them to the
// CPU (`toCpu`, a counted download on the GPU), keeps them for the run (`hold`) and frees them
// (`release`, `releaseAll`); on CPU tensors those are plain reads and no-ops.
import type { ort } from '../onnx/runtime.ts';
import type { StageName } from './modelPack.ts';
import type { SamplerSchedule } from './sampler.ts';

export type SamplerKind = 'typescript' | 'graphs';
export type DenoiserStage = 'priorDenoiser' | 'latentDecoder';

/** One sampling run of a denoiser stage. */
export interface SampleRun {
  stage: DenoiserStage;
  /** The conditioning rows the schedule's guidance asks for: [cond; uncond] (2·batch rows) with cfg, cond only (batch rows) without. */
  cond: Record<string, ort.Tensor>;
  schedule: SamplerSchedule;
  /** Dims of one candidate's latent (the stage's x after the batch dim). */
  rowDims: number[];
  /** Starting point [batch, ...rowDims] (img2img); default the schedule's seeded noise. */
  xInit?: ort.Tensor;
  onStep: (step: number, total: number) => void;
}

export interface TensorHome {
  readonly kind: SamplerKind;
  /** CPU values as a tensor `stage` will read (one upload, on the GPU home; held until the run ends). */
  upload(data: Float32Array, dims: number[], stage: StageName, label: string): Promise<ort.Tensor>;
  /** Runs a pack stage on tensors keyed by role; returns the one asked output, in this home. */
  run(stage: StageName, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor>;
  /** gdf.diffuse of one latent [1, ...rowDims] to `batch` rows at time t: a·latent + b·noise (unshifted schedule). */
  diffuse(latent: ort.Tensor, rowDims: number[], batch: number, t: number, noise: Float32Array, stage: StageName): Promise<ort.Tensor>;
  /** [x; 0] (stage B's effnet for CFG's [cond; uncond] rows: the unconditional branch has zero effnet). */
  padZeros(x: ort.Tensor, stage: StageName): Promise<ort.Tensor>;
  /** The diffusion sampler over a denoiser stage (sampler.ts's algorithm, schedule and noise). Returns x [batch, ...rowDims]. */
  sample(run: SampleRun): Promise<ort.Tensor>;
  /** [batch, ...rowDims] as tensors of `per` rows (the last may have fewer): one per-candidate stage run each. */
  splitRows(x: ort.Tensor, rowDims: number[], batch: number, per: number, stage: StageName): Promise<ort.Tensor[]>;
  /**
   * MIRAGE's retrieval score of each of `rows` candidates: the cosine of its L2-normalised hidden
   * states [rows, tokens, dim] to the normalised target [1, tokens, dim]. Frees `hidden`.
   */
  scores(hidden: ort.Tensor, target: ort.Tensor, rows: number, tokens: number, dim: number, stage: StageName): Promise<number[]>;
}

/** `t` with the given dims: itself when they already match, else a reshape (same data, on the CPU or the GPU). */
export function withDims(t: ort.Tensor, dims: number[]): ort.Tensor {
  return t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]) ? t : t.reshape(dims);
}

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

// How every Stable Cascade stage is built (stage C, stage B, stage A, the EfficientNet encoder), so
// that `mirage pack stable-cascade` writes them all the same way:
//   buildStageX(checkpoint, config, opts) -> an async sequence of StagePartGraph
// A stage is one graph, or a chain of consecutive parts (stage C at 3.6B parameters does not fit
// one onnxruntime-web session: split.ts). Each part names its inputs and outputs; a part's inputs
// are stage inputs (by role) or earlier parts' outputs (hand-offs, by ONNX name). Parts are yielded
// one at a time so the writer can store one part's weights and let them go before the next part
// reads its tensors: the converter never holds a whole checkpoint.
import type { GraphBuilder } from '../../../onnx/builder.ts';
import type { TensorSpec } from '../../modelPack.ts';
import type { Checkpoint } from '../checkpoint.ts';
import type { CascadePrecision } from './blocks.ts';

/** One graph of a stage: the whole stage, or one link of its chain. */
export interface StagePartGraph {
  /** File base name, e.g. 'stage_c.part-0' ('.f16' is added by the writer for float16). */
  base: string;
  graph: GraphBuilder;
  /** ONNX inputs: stage roles (x, r, …) and hand-offs from earlier parts. */
  inputs: Record<string, TensorSpec>;
  /** ONNX outputs: hand-offs to later parts, or the stage's output roles for the last part. */
  outputs: Record<string, TensorSpec>;
  /** Parameters whose weights this part holds (the parts' sum is the stage's count, more when a repeated block's weights are stored again in a later part: stage B). */
  parameters: number;
}

export interface StageBuildOptions {
  precision?: CascadePrecision;
  /**
   * Largest weight bytes per part (at the chosen precision): the stage is cut into consecutive
   * parts under it. Absent or Infinity: one graph.
   */
  maxPartBytes?: number;
  /** One call per tensor read from the checkpoint. */
  onTensor?: (key: string, done: number, total: number) => void;
}

/** The signature every stage builder of this folder follows. */
export type StageBuilder<Config> = (ck: Checkpoint, config: Config, opts?: StageBuildOptions) => AsyncGenerator<StagePartGraph>;

/** Bytes per weight at a precision. */
export const bytesPerWeight = (p: CascadePrecision | undefined): number => (p === 'float16' ? 2 : 4);

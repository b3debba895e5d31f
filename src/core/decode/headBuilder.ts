// Writes one reduced-rank decoder head into a bundle: A and B as float16 (the bulk of the bytes),
// intercept and training-target mean/std as float32, all in the shard subj0N/heads/<name>.bin.
import type { BundleWriter, TensorData } from '../bundle/writer.ts';
import type { Head, HeadName } from '../bundle/manifest.ts';
import type { Matrix } from '../tensor/matrix.ts';

export interface HeadSpec {
  name: HeadName;
  /** What the output stands for, e.g. "CLIP ViT-L/14 image embedding (simulated stand-in)". */
  role: string;
  /** Logical output shape; its product must equal B.cols. */
  outputShape: number[];
  /** [nVox, rank] (reduceRank's A). */
  A: Matrix;
  /** [rank, nOut] (reduceRank's B). */
  B: Matrix;
  /** [nOut]. */
  intercept: TensorData;
  /** [nOut]: per-output mean/std of the training targets (MIRAGE's prediction normalisation). */
  targetMean?: TensorData;
  targetStd?: TensorData;
  inputNorm?: Head['inputNorm'];
  outputNorm?: Head['outputNorm'];
  penalty: number;
  penaltySource?: string;
  fidelity: Head['fidelity'];
}

export function headShardPath(subjectId: number, name: HeadName): string {
  return `subj${String(subjectId).padStart(2, '0')}/heads/${name}.bin`;
}

/** Adds the head's tensors to `writer` and returns the manifest entry (the caller puts it in subject.heads). */
export function addHead(writer: BundleWriter, subjectId: number, spec: HeadSpec): Head {
  const nOut = spec.outputShape.reduce((a, b) => a * b, 1);
  const rank = spec.A.cols;
  const where = `head ${spec.name} of subject ${subjectId}`;
  if (spec.B.rows !== rank) throw new RangeError(`${where}: A is ${spec.A.rows}x${rank} but B has ${spec.B.rows} rows`);
  if (spec.B.cols !== nOut) throw new RangeError(`${where}: B has ${spec.B.cols} columns, outputShape [${spec.outputShape}] has ${nOut}`);
  for (const [field, v] of [['intercept', spec.intercept], ['targetMean', spec.targetMean], ['targetStd', spec.targetStd]] as const) {
    if (v && v.length !== nOut) throw new RangeError(`${where}: ${field} has ${v.length} values, expected ${nOut}`);
  }
  if (spec.targetStd) {
    for (let i = 0; i < spec.targetStd.length; i++) {
      if (!(spec.targetStd[i] >= 0)) throw new RangeError(`${where}: targetStd[${i}] = ${spec.targetStd[i]}, expected >= 0`);
    }
  }
  const shard = headShardPath(subjectId, spec.name);
  const head: Head = {
    name: spec.name,
    role: spec.role,
    outputShape: [...spec.outputShape],
    rank,
    A: writer.addTensor(shard, spec.A.data, 'float16', [spec.A.rows, rank]),
    B: writer.addTensor(shard, spec.B.data, 'float16', [rank, nOut]),
    intercept: writer.addTensor(shard, spec.intercept, 'float32', [nOut]),
    inputNorm: spec.inputNorm ?? 'none',
    outputNorm: spec.outputNorm ?? 'none',
    penalty: spec.penalty,
    fidelity: { ...spec.fidelity },
  };
  if (spec.targetMean) head.targetMean = writer.addTensor(shard, spec.targetMean, 'float32', [nOut]);
  if (spec.targetStd) head.targetStd = writer.addTensor(shard, spec.targetStd, 'float32', [nOut]);
  if (spec.penaltySource) head.penaltySource = spec.penaltySource;
  return head;
}

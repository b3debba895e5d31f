// The factored region update on a tfjs backend (webgpu, wasm, cpu): the region's rows of A are
// gathered once into a tensor A_R [|R|, rank]; each slider move uploads dx_R (|R| floats), runs
// (dx_R · A_R) · B and reads back the change. For heads with input or output normalisation the
// rank-space product u = dx_R·A_R is read back instead and LinearChangeEngine finishes exactly.
// tfjs is handed in by the caller (the worker or the benchmark), never imported here.
import type * as TF from '@tensorflow/tfjs';
import { headOutSize, type FactoredHead } from './types.ts';

export class TfRegionHead {
  private constructor(
    private readonly tf: typeof TF,
    readonly head: FactoredHead,
    readonly region: Int32Array,
    private readonly AR: TF.Tensor2D,
    private readonly B: TF.Tensor2D,
  ) {}

  static create(tf: typeof TF, head: FactoredHead, region: Int32Array, B?: TF.Tensor2D): TfRegionHead {
    const r = head.spec.rank;
    const rows = new Float32Array(region.length * r);
    region.forEach((v, j) => rows.set(head.A.subarray(v * r, (v + 1) * r), j * r));
    const AR = tf.tensor2d(rows, [region.length, r]);
    const b = B ?? tf.tensor2d(head.B, [r, headOutSize(head)]);
    return new TfRegionHead(tf, head, region, AR, b);
  }

  /** (dx_R · A_R) · B for values on the region's voxels, [outSize] (linear part only). */
  async delta(values: Float32Array): Promise<Float32Array> {
    const tf = this.tf;
    const y = tf.tidy(() => tf.matMul(tf.matMul(tf.tensor2d(values, [1, values.length]), this.AR), this.B));
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  }

  /** dx_R · A_R, [rank]. */
  async project(values: Float32Array): Promise<Float32Array> {
    const tf = this.tf;
    const y = tf.tidy(() => tf.matMul(tf.tensor2d(values, [1, values.length]), this.AR));
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  }

  dispose(keepB = false): void {
    this.AR.dispose();
    if (!keepB) this.B.dispose();
  }
}

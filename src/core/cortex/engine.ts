// The exact linear-change engine. A head predicts ((x') · A) · B + intercept with x' = x or
// x/|x| (inputNorm 'l2'), then an optional per-token L2 normalisation. A change dx confined to a
// region R moves x·A by dx_R · A_R (only R's rows of A), so a slider update costs
// |R|·rank + rank·outSize multiply-adds instead of nVox·rank + rank·outSize, and the result is
// exactly decode(x + dx) − decode(x) (up to float rounding): the input L2 norm is updated from
// |x|² + Σ_R (2·x_i·dx_i + dx_i²), the output normalisation is re-applied to baseline + change.
// Baselines and the small products are accumulated in float64.
import type { HeadName } from '../bundle/manifest.ts';
import { cosine, l2NormalizeRows, norm } from '../tensor/vector.ts';
import { headOutSize, type FactoredHead, type RegionDelta } from './types.ts';
import type { RegionProduct } from './tfRegion.ts';

export interface HeadBaseline {
  /** x'·A in float64, [rank]. */
  xA: Float64Array;
  /** |x|² over all voxels (used by inputNorm 'l2'). */
  norm2: number;
  /** Raw prediction before output normalisation (intercept included), float64 [outSize]. */
  raw: Float64Array;
  /** Final prediction (after output normalisation), float32 [outSize]. */
  pred: Float32Array;
}

export interface HeadChange {
  /** Change of the final prediction, float32 [outSize]. */
  delta: Float32Array;
  /** |delta| / |baseline prediction|. */
  relNorm: number;
}

export class LinearChangeEngine {
  readonly voxelCount: number;
  private readonly heads = new Map<HeadName, FactoredHead>();
  private x: Float32Array | null = null;
  private readonly baselines = new Map<HeadName, HeadBaseline>();

  constructor(heads: FactoredHead[], voxelCount: number) {
    this.voxelCount = voxelCount;
    for (const h of heads) {
      const out = headOutSize(h);
      if (h.A.length !== voxelCount * h.spec.rank) throw new RangeError(`head ${h.spec.name}: A has ${h.A.length} values, expected [${voxelCount}, ${h.spec.rank}]`);
      if (h.B.length !== h.spec.rank * out) throw new RangeError(`head ${h.spec.name}: B has ${h.B.length} values, expected [${h.spec.rank}, ${out}]`);
      if (h.intercept.length !== out) throw new RangeError(`head ${h.spec.name}: intercept has ${h.intercept.length} values, expected ${out}`);
      this.heads.set(h.spec.name, h);
    }
  }

  get headNames(): HeadName[] {
    return [...this.heads.keys()];
  }

  head(name: HeadName): FactoredHead {
    const h = this.heads.get(name);
    if (!h) throw new RangeError(`no head "${name}" loaded (have: ${this.headNames.join(', ')})`);
    return h;
  }

  /** Sets the unperturbed activity x (betas of one trial, [nVox]); baselines are computed lazily. */
  setBaseline(x: Float32Array): void {
    if (x.length !== this.voxelCount) throw new RangeError(`baseline has ${x.length} voxels, expected ${this.voxelCount}`);
    if (this.x === x) return;
    this.x = x;
    this.baselines.clear();
  }

  get baselineActivity(): Float32Array {
    if (!this.x) throw new Error('LinearChangeEngine: setBaseline() first');
    return this.x;
  }

  /** The full prediction for the baseline: one pass over every voxel (nVox·rank + rank·out). */
  baseline(name: HeadName): HeadBaseline {
    let b = this.baselines.get(name);
    if (b) return b;
    const h = this.head(name);
    const x = this.baselineActivity;
    const r = h.spec.rank;
    const xA = new Float64Array(r);
    let norm2 = 0;
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      norm2 += xi * xi;
      if (xi === 0) continue;
      const o = i * r;
      for (let k = 0; k < r; k++) xA[k] += xi * h.A[o + k];
    }
    if (h.spec.inputNorm === 'l2') {
      const s = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
      for (let k = 0; k < r; k++) xA[k] *= s;
    }
    const raw = projectB(h, xA);
    for (let j = 0; j < raw.length; j++) raw[j] += h.intercept[j];
    b = { xA, norm2, raw, pred: finish(h, raw) };
    this.baselines.set(name, b);
    return b;
  }

  /** dx_R · A_R in float64 [rank]: the region's rows of A only. */
  projectRegion(name: HeadName, d: RegionDelta): Float64Array {
    const h = this.head(name);
    const r = h.spec.rank;
    const u = new Float64Array(r);
    for (let j = 0; j < d.indices.length; j++) {
      const v = d.values[j];
      if (v === 0) continue;
      const o = d.indices[j] * r;
      for (let k = 0; k < r; k++) u[k] += v * h.A[o + k];
    }
    return u;
  }

  /** Exact change of a head's prediction for the baseline plus `d` (plain JS, float64 accumulation). */
  change(name: HeadName, d: RegionDelta): HeadChange {
    const h = this.head(name);
    const u = this.projectRegion(name, d);
    if (h.spec.inputNorm === 'l2') this.renormalise(name, d, u);
    return this.finishChange(name, projectB(h, u));
  }

  /**
   * The same change with the region products on `product` (a tfjs backend: WebGPU, wasm, cpu):
   * (dx_R·A_R)·B in one device round trip, or for an input-L2 head u = dx_R·A_R on the device,
   * the exact renormalisation here, then u'·B on the device. null: the plain-JS path.
   */
  async changeOn(product: RegionProduct | null, name: HeadName, d: RegionDelta): Promise<HeadChange> {
    if (!product) return this.change(name, d);
    const h = this.head(name);
    if (h.spec.inputNorm !== 'l2') return this.finishChange(name, await product.delta(name, d));
    const u = Float64Array.from(await product.project(name, d));
    this.renormalise(name, d, u);
    return this.finishChange(name, await product.timesB(name, u));
  }

  /**
   * Input norm 'l2': x'·A = (x·A)/|x|. Turns u = dx_R·A_R (in place) into the change of x'·A:
   * rebuild the unnormalised product, update |x|² over the region, renormalise.
   */
  private renormalise(name: HeadName, d: RegionDelta, u: Float64Array): void {
    const b = this.baseline(name);
    const x = this.baselineActivity;
    const n0 = Math.sqrt(b.norm2);
    let n2 = b.norm2;
    for (let j = 0; j < d.indices.length; j++) {
      const v = d.values[j];
      n2 += 2 * x[d.indices[j]] * v + v * v;
    }
    const n1 = Math.sqrt(Math.max(n2, 0));
    const s1 = n1 > 0 ? 1 / n1 : 0;
    for (let k = 0; k < u.length; k++) u[k] = (b.xA[k] * n0 + u[k]) * s1 - b.xA[k];
  }

  /** From the change of the raw prediction to the change of the final one (output norm re-applied). */
  private finishChange(name: HeadName, dRaw: ArrayLike<number>): HeadChange {
    const h = this.head(name);
    const b = this.baseline(name);
    let delta: Float32Array;
    if (h.spec.outputNorm === 'l2-token') {
      const raw1 = new Float64Array(dRaw.length);
      for (let j = 0; j < raw1.length; j++) raw1[j] = b.raw[j] + dRaw[j];
      const p1 = finish(h, raw1);
      delta = new Float32Array(p1.length);
      for (let j = 0; j < p1.length; j++) delta[j] = p1[j] - b.pred[j];
    } else {
      delta = Float32Array.from(dRaw);
    }
    return { delta, relNorm: norm(delta) / Math.max(norm(b.pred), 1e-30) };
  }

  /** The baseline prediction plus a change, float32. */
  perturbed(name: HeadName, change: HeadChange): Float32Array {
    const p = this.baseline(name).pred;
    const out = new Float32Array(p.length);
    for (let j = 0; j < p.length; j++) out[j] = p[j] + change.delta[j];
    return out;
  }
}

/** u · B for u [rank] (float64) -> float64 [outSize]. */
export function projectB(h: FactoredHead, u: Float64Array): Float64Array {
  const out = new Float64Array(h.B.length / h.spec.rank);
  const n = out.length;
  for (let k = 0; k < u.length; k++) {
    const uk = u[k];
    if (uk === 0) continue;
    const o = k * n;
    for (let j = 0; j < n; j++) out[j] += uk * h.B[o + j];
  }
  return out;
}

/** Output normalisation ('l2-token': each row of the last axis scaled to unit length). */
function finish(h: FactoredHead, raw: Float64Array): Float32Array {
  const out = Float32Array.from(raw);
  if (h.spec.outputNorm !== 'l2-token') return out;
  return l2NormalizeRows(raw, out, h.spec.outputShape[h.spec.outputShape.length - 1]);
}

export { cosine, norm } from '../tensor/vector.ts';

export function cosineToEach(pred: ArrayLike<number>, features: Float32Array, n: number): Float64Array {
  const dim = pred.length;
  if (features.length !== n * dim) throw new RangeError(`features have ${features.length} values, expected [${n}, ${dim}]`);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = cosine(pred, features.subarray(i * dim, (i + 1) * dim));
  return out;
}

/** Identification rank (1 = best) of row `target` among `scores` (higher is better; ties count against). */
export function rankOf(scores: ArrayLike<number>, target: number): number {
  let r = 1;
  for (let i = 0; i < scores.length; i++) if (i !== target && scores[i] >= scores[target]) r++;
  return r;
}

// "Drive toward a target": the smallest change inside a region that moves a head's prediction
// toward a target embedding.
//
// Wanted: dx_R (supported on region R) with (dx_R · A_R) · B = g, g = strength · (target − current).
// Usually outSize > rank, so g is not reachable exactly; we solve in two small steps:
//   1. u* = argmin_u |u·B − g|  =  g · Bᵀ · (B·Bᵀ)⁺            (rank x rank pseudo-inverse)
//   2. dx_R = argmin |dx_R| s.t. dx_R · A_R = u*  =  u* · (A_Rᵀ·A_R)⁺ · A_Rᵀ   (rank x rank)
// When B has full row rank and A_R full column rank (|R| ≥ rank, the usual case: ROIs hold
// hundreds of voxels, bundles keep rank ≤ a few hundred) this is exactly the minimum-norm
// least-squares solution of dx_R · (A_R·B) = g: step 1 has a unique answer and every dx_R that
// reaches it differs from ours by a vector orthogonal to it (null space of A_Rᵀ). The change
// reached is the orthogonal projection of g onto the row space of B, so the distance to the target
// never grows and shrinks monotonically with strength. The two Gram pseudo-inverses are cached
// (per head, and per head + region), so a strength slider costs out·rank + |R|·rank per move.
import { pinvSymmetric, matVec } from './linalg.ts';
import { headOutSize, type FactoredHead, type RegionDelta } from './types.ts';

const bGramCache = new WeakMap<Float32Array, Float64Array>();
const aGramCache = new WeakMap<Float32Array, WeakMap<Int32Array, Float64Array>>();

/** (B·Bᵀ)⁺, rank x rank, cached on the B array. */
function bGramPinv(h: FactoredHead): Float64Array {
  let p = bGramCache.get(h.B);
  if (p) return p;
  const r = h.spec.rank;
  const n = headOutSize(h);
  const g = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += h.B[i * n + c] * h.B[j * n + c];
      g[i * r + j] = s;
      g[j * r + i] = s;
    }
  }
  p = pinvSymmetric(g, r);
  bGramCache.set(h.B, p);
  return p;
}

/** (A_Rᵀ·A_R)⁺, rank x rank, cached on (A, region voxel array). */
function aGramPinv(h: FactoredHead, region: Int32Array): Float64Array {
  let perA = aGramCache.get(h.A);
  if (!perA) aGramCache.set(h.A, (perA = new WeakMap()));
  let p = perA.get(region);
  if (p) return p;
  const r = h.spec.rank;
  const g = new Float64Array(r * r);
  for (const v of region) {
    const o = v * r;
    for (let i = 0; i < r; i++) {
      const ai = h.A[o + i];
      if (ai === 0) continue;
      for (let j = i; j < r; j++) g[i * r + j] += ai * h.A[o + j];
    }
  }
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) g[i * r + j] = g[j * r + i];
  p = pinvSymmetric(g, r);
  perA.set(region, p);
  return p;
}

/**
 * The minimum-norm region-restricted change moving `current` (the head's raw prediction)
 * toward `target` by `strength` (0 = none, 1 = as far as the region's decoder rows allow).
 * Needs a head with linear input and output (inputNorm and outputNorm 'none').
 */
export function driveTowardTarget(h: FactoredHead, region: Int32Array, current: ArrayLike<number>, target: ArrayLike<number>, strength: number): RegionDelta {
  if (h.spec.inputNorm !== 'none' || h.spec.outputNorm !== 'none') {
    throw new RangeError(`drive toward a target needs a linear head; "${h.spec.name}" has inputNorm ${h.spec.inputNorm}, outputNorm ${h.spec.outputNorm}`);
  }
  const r = h.spec.rank;
  const n = headOutSize(h);
  if (current.length !== n || target.length !== n) throw new RangeError(`drive: current/target must have ${n} values (head ${h.spec.name})`);
  // gBt = g · Bᵀ  (rank)
  const gBt = new Float64Array(r);
  for (let k = 0; k < r; k++) {
    let s = 0;
    const o = k * n;
    for (let j = 0; j < n; j++) s += strength * (target[j] - current[j]) * h.B[o + j];
    gBt[k] = s;
  }
  const u = matVec(bGramPinv(h), gBt, r);
  const y = matVec(aGramPinv(h, region), u, r);
  const values = new Float32Array(region.length);
  for (let j = 0; j < region.length; j++) {
    const o = region[j] * r;
    let s = 0;
    for (let k = 0; k < r; k++) s += h.A[o + k] * y[k];
    values[j] = s;
  }
  return { indices: region, values };
}

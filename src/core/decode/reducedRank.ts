// Reduced-rank storage of a ridge head: coefᵀ [nVox, nOut] ≈ A [nVox, r] · B [r, nOut].
//
// Method: truncated SVD of the coefficient matrix itself (Eckart–Young: the best rank-r
// approximation of W in Frobenius norm). We chose it over reduced-rank regression on training
// predictions because it needs only the solution: the same code compresses MIRAGE's published
// weights (which come without their training betas) and our own fits, so both kinds of bundle
// carry factors made the same way. The price is that it weights voxel directions by coefficient
// size rather than by the variance of the betas along them; the fidelity figure (R² of compressed
// vs full predictions on held-out trials) measures what that costs.
//
// Storage is float16, so the factors are balanced per component (|A[:,k]|∞ = |B[k,:]|∞) to keep
// both away from float16's subnormal range, and the fidelity is computed with the float16-rounded
// factors the bundle actually stores.
import { decodeFloat16, encodeFloat16 } from '../tensor/float16.ts';
import { matrix, type Matrix } from '../tensor/matrix.ts';
import { symmetricEigen } from './eigen.ts';
import { gemmNT } from './linalg.ts';
import type { RidgeSolution } from './ridge.ts';

export interface ReducedRank {
  /** [nVox, rank]. */
  A: Matrix<Float32Array>;
  /** [rank, nOut]. */
  B: Matrix<Float32Array>;
  /**
   * R² (variance-weighted over outputs) of predictions with the float16-rounded factors against the
   * full-rank float64 predictions on the held-out trials; without held-out trials, the same ratio
   * in coefficient space: 1 − ‖W − AB‖² / ‖W‖² (fidelityTrials = 0).
   */
  fidelityR2: number;
  fidelityTrials: number;
  /** Leading singular values of coef (descending), length rank. */
  singularValues: Float64Array;
  /**
   * The intercept to store with A and B: sol.intercept + x̄·(coefᵀ − AB) when the solution carries
   * its training mean x̄ (RidgePath solutions do), so the compressed head also predicts ȳ at x̄;
   * otherwise sol.intercept. [nOut].
   */
  intercept: Float64Array;
}

/**
 * Rank-`rank` factors of a ridge solution. `rank` is clamped to min(nVox, nOut) (use A.cols for the
 * rank actually stored). Cost: Gram matrix of the smaller side of coef, then its eigendecomposition.
 */
export function reduceRank(sol: RidgeSolution, rank: number, Xheld?: Matrix): ReducedRank {
  const { rows: q, cols: p, data: W } = sol.coef; // W [q, p]
  if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`reduceRank: rank must be a positive integer, got ${rank}`);
  const r = Math.min(rank, p, q);
  const A = new Float32Array(p * r);
  const B = new Float32Array(r * q);
  const sv = new Float64Array(r);
  if (q <= p) {
    // W Wᵀ = U S² Uᵀ; Wᵀ u_k = s_k v_k.
    const eig = symmetricEigen(gram(W, q, p), q);
    for (let k = 0; k < r; k++) {
      const s = Math.sqrt(Math.max(eig.values[k], 0));
      sv[k] = s;
      const u = eig.vectors.subarray(k * q, k * q + q);
      const wu = new Float64Array(p); // Wᵀ u = s v
      for (let o = 0; o < q; o++) {
        const uo = u[o];
        if (uo === 0) continue;
        const wo = o * p;
        for (let j = 0; j < p; j++) wu[j] += uo * W[wo + j];
      }
      placeComponent(A, B, k, r, p, q, wu, u); // A[:,k]·B[k,:] = (s v)(uᵀ)
    }
  } else {
    // WᵀW = V S² Vᵀ; W v_k = s_k u_k.
    const Wt = new Float64Array(p * q);
    for (let o = 0; o < q; o++) for (let j = 0; j < p; j++) Wt[j * q + o] = W[o * p + j];
    const eig = symmetricEigen(gram(Wt, p, q), p);
    for (let k = 0; k < r; k++) {
      const s = Math.sqrt(Math.max(eig.values[k], 0));
      sv[k] = s;
      const v = eig.vectors.subarray(k * p, k * p + p);
      const wv = new Float64Array(q); // W v = s u
      for (let o = 0; o < q; o++) {
        let acc = 0;
        const wo = o * p;
        for (let j = 0; j < p; j++) acc += W[wo + j] * v[j];
        wv[o] = acc;
      }
      placeComponent(A, B, k, r, p, q, v, wv); // (v)(s u)ᵀ
    }
  }
  // What the bundle stores: float16.
  const A16 = decodeFloat16(encodeFloat16(A));
  const B16 = decodeFloat16(encodeFloat16(B));
  const intercept = compressedIntercept(sol, A16, B16, r);
  const fid = Xheld ? predictionFidelity(sol, A16, B16, r, intercept, Xheld) : coefficientFidelity(sol, A16, B16, r);
  return { A: matrix(p, r, A16), B: matrix(r, q, B16), fidelityR2: fid, fidelityTrials: Xheld ? Xheld.rows : 0, singularValues: sv, intercept };
}

function compressedIntercept(sol: RidgeSolution, A: Float32Array, B: Float32Array, r: number): Float64Array {
  const out = Float64Array.from(sol.intercept);
  const xm = sol.xMean;
  if (!xm) return out;
  const { rows: q, cols: p, data: W } = sol.coef;
  if (xm.length !== p) throw new RangeError(`reduceRank: xMean has ${xm.length} values, coef has ${p} voxels`);
  const h = new Float64Array(r); // x̄·A
  for (let j = 0; j < p; j++) for (let k = 0; k < r; k++) h[k] += xm[j] * A[j * r + k];
  for (let o = 0; o < q; o++) {
    let full = 0;
    for (let j = 0; j < p; j++) full += xm[j] * W[o * p + j];
    let comp = 0;
    for (let k = 0; k < r; k++) comp += h[k] * B[k * q + o];
    out[o] += full - comp;
  }
  return out;
}

/** Writes the outer product a·bᵀ as column k of A and row k of B, balanced so max|A[:,k]| = max|B[k,:]|. */
function placeComponent(
  A: Float32Array,
  B: Float32Array,
  k: number,
  r: number,
  p: number,
  q: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): void {
  let ma = 0;
  let mb = 0;
  for (let j = 0; j < p; j++) ma = Math.max(ma, Math.abs(a[j]));
  for (let o = 0; o < q; o++) mb = Math.max(mb, Math.abs(b[o]));
  const c = ma > 0 && mb > 0 ? Math.sqrt(mb / ma) : 1; // a·c and b/c have equal maxima
  for (let j = 0; j < p; j++) A[j * r + k] = a[j] * c;
  for (let o = 0; o < q; o++) B[k * q + o] = b[o] / c;
}

/** M Mᵀ of a row-major [rows, cols] matrix. */
function gram(M: Float64Array, rows: number, cols: number): Float64Array {
  return gemmNT(M, rows, cols, M, rows, undefined, true);
}

function predictionFidelity(sol: RidgeSolution, A: Float32Array, B: Float32Array, r: number, intercept: Float64Array, X: Matrix): number {
  const { rows: q, cols: p, data: W } = sol.coef;
  if (X.cols !== p) throw new RangeError(`reduceRank: held-out X has ${X.cols} voxels, coef has ${p}`);
  if (X.rows < 2) throw new RangeError('reduceRank: need at least 2 held-out trials for a fidelity R²');
  const n = X.rows;
  const full = new Float64Array(n * q);
  const comp = new Float64Array(n * q);
  const h = new Float64Array(r);
  for (let i = 0; i < n; i++) {
    const xi = i * p;
    for (let o = 0; o < q; o++) {
      let acc = 0;
      const wo = o * p;
      for (let j = 0; j < p; j++) acc += X.data[xi + j] * W[wo + j];
      full[i * q + o] = acc + sol.intercept[o];
    }
    h.fill(0);
    for (let j = 0; j < p; j++) {
      const x = X.data[xi + j];
      if (x === 0) continue;
      for (let k = 0; k < r; k++) h[k] += x * A[j * r + k];
    }
    for (let o = 0; o < q; o++) comp[i * q + o] = intercept[o];
    for (let k = 0; k < r; k++) for (let o = 0; o < q; o++) comp[i * q + o] += h[k] * B[k * q + o];
  }
  // R² pooled over outputs (variance-weighted), each head with its own intercept.
  let ssRes = 0;
  let ssTot = 0;
  for (let o = 0; o < q; o++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += full[i * q + o];
    mean /= n;
    for (let i = 0; i < n; i++) {
      const f = full[i * q + o];
      const d = f - comp[i * q + o];
      ssRes += d * d;
      ssTot += (f - mean) * (f - mean);
    }
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : 0;
}

function coefficientFidelity(sol: RidgeSolution, A: Float32Array, B: Float32Array, r: number): number {
  const { rows: q, cols: p, data: W } = sol.coef;
  let ssRes = 0;
  let ssTot = 0;
  for (let j = 0; j < p; j++) {
    for (let o = 0; o < q; o++) {
      let ab = 0;
      for (let k = 0; k < r; k++) ab += A[j * r + k] * B[k * q + o];
      const w = W[o * p + j];
      ssRes += (w - ab) * (w - ab);
      ssTot += w * w;
    }
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : 1;
}

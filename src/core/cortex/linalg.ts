// The pseudo-inverse of the small rank x rank Gram matrices of "drive toward a target", built on
// decode's symmetric eigendecomposition (one implementation of that factorisation in the project).
import { symmetricEigen } from '../decode/eigen.ts';

/**
 * Pseudo-inverse of a symmetric positive semi-definite n x n matrix (row-major). Eigenvalues at
 * or below `rcond * max |eigenvalue|` count as zero (numpy.linalg.pinv's rule).
 */
export function pinvSymmetric(m: Float64Array, n: number, rcond = 1e-10): Float64Array {
  const { values, vectors } = symmetricEigen(m, n); // vectors as rows
  let max = 0;
  for (const x of values) max = Math.max(max, Math.abs(x));
  const out = new Float64Array(n * n);
  if (max === 0) return out;
  const cut = rcond * max;
  for (let k = 0; k < n; k++) {
    if (Math.abs(values[k]) <= cut) continue;
    const inv = 1 / values[k];
    const o = k * n;
    for (let i = 0; i < n; i++) {
      const vik = vectors[o + i] * inv;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[o + j];
    }
  }
  return out;
}

/** y = M x for a square n x n row-major matrix. */
export function matVec(m: Float64Array, x: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += m[i * n + j] * x[j];
    y[i] = s;
  }
  return y;
}

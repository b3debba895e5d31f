// Symmetric eigendecomposition in float64: Householder reduction to tridiagonal form followed by
// the implicit QL algorithm with Wilkinson-like shifts (EISPACK tred2/tql2, as in JAMA, public
// domain). Written here because no maintained, browser-safe float64 LAPACK exists in the
// dependency set, and ridge regression needs exactly this one factorisation, reused for every
// penalty. O(n³); fine for the few-thousand-dimensional Gram matrices the project builds.
import { AbortError } from '../base/errors.ts';

export interface SymmetricEigen {
  n: number;
  /** Eigenvalues in descending order. */
  values: Float64Array;
  /**
   * Eigenvectors as ROWS, row-major [n, n]: vector k is vectors[k*n .. k*n+n), matching values[k].
   * (Rows, not columns, so that the QL rotations and later products walk memory contiguously.)
   */
  vectors: Float64Array;
}

export interface EigenOptions {
  signal?: AbortSignal;
  /** Called with (done, total) during the reduction; total = n. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Eigendecomposition of a symmetric matrix given row-major in `a` ([n, n]; only symmetric input is
 * meaningful, both triangles are read). `a` is not modified.
 */
export function symmetricEigen(a: Float64Array, n: number, opts: EigenOptions = {}): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: ${a.length} values for [${n}, ${n}]`);
  if (n === 0) return { n, values: new Float64Array(0), vectors: new Float64Array(0) };
  // The EISPACK loops walk columns of V; we store V transposed (element (r, c) at Vt[c*n + r]) so
  // every O(n³) inner loop of both phases runs over contiguous memory. Aᵀ = A, so the copy of `a`
  // is already the transposed input.
  const Vt = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(Vt, d, e, n, opts);
  tql2(Vt, d, e, n, opts);
  // Sort descending.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = d[src];
    vectors.set(Vt.subarray(src * n, src * n + n), k * n);
  });
  return { n, values, vectors };
}

function check(opts: EigenOptions): void {
  if (opts.signal?.aborted) throw new AbortError();
}

/**
 * Householder tridiagonalisation; on return V (stored transposed: V(r, c) = V[c*n + r]) holds the
 * accumulated orthogonal transform, d the diagonal and e the sub-diagonal.
 */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, opts: EigenOptions): void {
  for (let j = 0; j < n; j++) d[j] = V[j * n + (n - 1)];
  for (let i = n - 1; i > 0; i--) {
    if ((i & 31) === 0) {
      check(opts);
      opts.onProgress?.(n - i, n);
    }
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[j * n + (i - 1)];
        V[j * n + i] = 0;
        V[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[i * n + j] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = V[j * n + k];
          g += vkj * d[k];
          e[k] += vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[j * n + k] -= f * e[k] + g * d[k];
        d[j] = V[j * n + (i - 1)];
        V[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate transformations.
  for (let i = 0; i < n - 1; i++) {
    V[i * n + (n - 1)] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[(i + 1) * n + k] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[(i + 1) * n + k] * V[j * n + k];
        for (let k = 0; k <= i; k++) V[j * n + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[j * n + (n - 1)];
    V[j * n + (n - 1)] = 0;
  }
  V[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); Vt holds eigenvectors as rows (transposed storage). */
function tql2(Vt: Float64Array, d: Float64Array, e: Float64Array, n: number, opts: EigenOptions): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    if ((l & 31) === 0) check(opts);
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`symmetricEigen: QL did not converge for eigenvalue ${l}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n;
          const ri1 = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const hk = Vt[ri1 + k];
            const vk = Vt[ri + k];
            Vt[ri1 + k] = s * vk + c * hk;
            Vt[ri + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

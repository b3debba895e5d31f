// Dense float64 kernels for the ridge fit (the only O(n³) work besides the eigensolver). Plain
// loops, blocked four rows at a time so each row of the right operand is loaded once per four
// output rows: the fits are memory-bound in JS, and this roughly halves their time.
import { AbortError } from '../base/errors.ts';

type Num = Float64Array | Float32Array;

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/** C [m, n] = A [m, k] · B [k, n], all row-major; written into `out` (its first m·n values) when given. */
export function gemm(A: Num, m: number, k: number, B: Num, n: number, signal?: AbortSignal, out?: Float64Array): Float64Array {
  const C = out ? out.fill(0, 0, m * n) : new Float64Array(m * n);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    throwIfAborted(signal);
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let t = 0; t < k; t++) {
      const a0 = A[i * k + t];
      const a1 = A[(i + 1) * k + t];
      const a2 = A[(i + 2) * k + t];
      const a3 = A[(i + 3) * k + t];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const b = t * n;
      for (let j = 0; j < n; j++) {
        const bj = B[b + j];
        C[c0 + j] += a0 * bj;
        C[c1 + j] += a1 * bj;
        C[c2 + j] += a2 * bj;
        C[c3 + j] += a3 * bj;
      }
    }
  }
  for (; i < m; i++) {
    const c0 = i * n;
    for (let t = 0; t < k; t++) {
      const a0 = A[i * k + t];
      if (a0 === 0) continue;
      const b = t * n;
      for (let j = 0; j < n; j++) C[c0 + j] += a0 * B[b + j];
    }
  }
  return C;
}

/** C [m, n] = A [m, k] · Bᵀ for B [n, k] (dot products of rows). With `symmetric` (A === B), fills both triangles from one. */
export function gemmNT(A: Num, m: number, k: number, B: Num, n: number, signal?: AbortSignal, symmetric = false): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    if ((i & 7) === 0) throwIfAborted(signal);
    const ai = i * k;
    const jEnd = symmetric ? i + 1 : n;
    let j = 0;
    for (; j + 4 <= jEnd; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < k; t++) {
        const a = A[ai + t];
        s0 += a * B[b0 + t];
        s1 += a * B[b1 + t];
        s2 += a * B[b2 + t];
        s3 += a * B[b3 + t];
      }
      C[i * n + j] = s0;
      C[i * n + j + 1] = s1;
      C[i * n + j + 2] = s2;
      C[i * n + j + 3] = s3;
    }
    for (; j < jEnd; j++) {
      const b0 = j * k;
      let s = 0;
      for (let t = 0; t < k; t++) s += A[ai + t] * B[b0 + t];
      C[i * n + j] = s;
    }
  }
  if (symmetric) for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) C[j * n + i] = C[i * n + j];
  return C;
}

// Blockwise randomized SVD (Halko, Martinsson & Tropp 2011, algorithm 4.4 with power iterations) of
// a ridge coefficient matrix W [nOut, nVox] that is far too big for memory (MIRAGE's subject 1: about
// 11 billion float32 weights over five heads). W is only ever seen a block of output rows at a time,
// through a RowBlockSource (a pickle on disk, or a generator in the benchmark), and every pass over it
// accumulates nVox x k products, so memory is O((nVox + nOut) * k + blockRows * nVox) whatever nOut.
//
//   pass 1:            Y = Wᵀ Ω                                   (Ω: nOut x k Gaussian, k = rank + oversample)
//   then per round:    Q = orth(Y);  pass: C = W Q (nOut x k), in the first round with the full
//                      predictions X Wᵀ (computed as W Xᵀ in the same product);
//                      CᵀC = V S² Vᵀ;  Wᵀ ≈ (Q V_r) (C V_r)ᵀ = A B  — stop here when the power
//                      iterations are spent or the fidelity target is met, else
//                      pass: Y = Wᵀ C = Σ_b W_bᵀ (W_b Q)  (one power iteration) and go round again.
// The products run on a GemmKernel (plain JS by default; the CLI hands in tfjs-wasm/XNNPACK), in
// float32 with float64 accumulation of Y across blocks; the small k x k work stays float64 JS.
//
// The output follows decode/reducedRank.ts: A [nVox, r], B [r, nOut], each component balanced so
// max|A[:,k]| = max|B[k,:]| (float16 storage), and the fidelity is computed with the float16-rounded
// factors: R² (variance-weighted over outputs) of compressed against full predictions on given trials.
import { Rng } from '../base/rng.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import { decodeFloat16, encodeFloat16 } from '../tensor/float16.ts';
import { matrix, type Matrix } from '../tensor/matrix.ts';
import { symmetricEigen } from './eigen.ts';
import { gemm } from './linalg.ts';

/** A matrix read by blocks of rows (W's rows are output dimensions, its columns voxels). */
export interface RowBlockSource {
  rows: number;
  cols: number;
  /** Rows [start, start + count) as float32, row-major. */
  readRows(start: number, count: number): Promise<Float32Array>;
}

export interface RandomizedSvdOptions {
  rank: number;
  /** Extra random directions beyond the rank (default 10). */
  oversample?: number;
  /** Power iterations (default 1): at most this many; more passes, better accuracy when the spectrum decays slowly. */
  powerIterations?: number;
  /**
   * Stop the power iterations as soon as the fidelity R² reaches this (needs fidelityX). Each round's
   * R² is exact (computed from the factors that would be stored), so a head that is already good
   * enough after the sketch costs 2 passes instead of 2 + 2·powerIterations.
   */
  fidelityTarget?: number;
  /** The block products (default: plain-JS float32, jsGemmKernel). */
  kernel?: GemmKernel;
  /** Rows of W per block (default: ~32 MB of float32). */
  blockRows?: number;
  seed?: number;
  /** Trials [n, nVox] (row-major) on which to compare compressed and full predictions. */
  fidelityX?: Matrix;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label?: string) => void;
}

export interface RandomizedSvdResult {
  /** [nVox, r], float16-rounded values. */
  A: Matrix<Float32Array>;
  /** [r, nOut], float16-rounded values. */
  B: Matrix<Float32Array>;
  singularValues: Float64Array;
  /** R² of compressed vs full predictions on fidelityX (NaN when not given). */
  fidelityR2: number;
  fidelityTrials: number;
  /** Passes over W that were made (2 + 2 · powerIterations). */
  passes: number;
  /** Power iterations made (≤ the option; fewer when fidelityTarget was met early). */
  powerIterations: number;
}

/** Gram matrix YᵀY [k, k] of a row-major Y [n, k] (upper triangle accumulated, then mirrored). */
function gram(Y: ArrayLike<number>, n: number, k: number): Float64Array {
  const G = new Float64Array(k * k);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    for (let a = 0; a < k; a++) {
      const ya = Y[row + a];
      if (ya === 0) continue;
      for (let b = a; b < k; b++) G[a * k + b] += ya * Y[row + b];
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) G[a * k + b] = G[b * k + a];
  return G;
}

/** Orthonormal basis of the columns of Y [n, k] (row-major) by CholeskyQR2 via the k x k Gram matrix. */
export function orthonormalize(Y: Float64Array, n: number, k: number): Float64Array {
  let Q = Y;
  for (let round = 0; round < 2; round++) {
    const eig = symmetricEigen(gram(Q, n, k), k);
    const top = eig.values[0] > 0 ? eig.values[0] : 0;
    // M = V Λ^{-1/2} (directions with negligible energy are dropped: rank-deficient W)
    const M = new Float64Array(k * k);
    for (let c = 0; c < k; c++) {
      const lam = eig.values[c];
      if (!(lam > top * 1e-24) || lam <= 0) continue;
      const s = 1 / Math.sqrt(lam);
      for (let a = 0; a < k; a++) M[a * k + c] = eig.vectors[c * k + a] * s;
    }
    const out = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      const row = i * k;
      for (let a = 0; a < k; a++) {
        const ya = Q[row + a];
        if (ya === 0) continue;
        const ma = a * k;
        for (let c = 0; c < k; c++) out[row + c] += ya * M[ma + c];
      }
    }
    Q = out;
  }
  return Q;
}

/** Streams over W once: for each row block, `fn(start, rows, block)`. */
async function pass(
  W: RowBlockSource,
  blockRows: number,
  label: string,
  opts: RandomizedSvdOptions,
  progress: { done: number; total: number },
  fn: (start: number, count: number, block: Float32Array) => void | Promise<void>,
): Promise<void> {
  // Blocks of an in-memory W arrive without a macrotask: yield now and then so Ctrl-C is heard.
  const tick = yieldEvery(YIELD_MS, opts.signal);
  for (let start = 0; start < W.rows; start += blockRows) {
    await tick();
    const count = Math.min(blockRows, W.rows - start);
    const block = await W.readRows(start, count);
    if (block.length !== count * W.cols) throw new RangeError(`randomizedSvd: block of ${block.length} values, expected ${count}x${W.cols}`);
    await fn(start, count, block);
    progress.done += count;
    opts.onProgress?.(progress.done, progress.total, label);
  }
}

/**
 * T = W_b Q  ([count, k], linalg's gemm: four rows of W at a time, so each row of Q is loaded once
 * per four rows) and, when Y is given, Y += W_bᵀ T (likewise four rows at a time).
 */
export function blockProducts(block: Float32Array, count: number, p: number, Q: Float64Array, k: number, T: Float64Array, Y?: Float64Array): void {
  gemm(block, count, p, Q, k, undefined, T);
  if (Y) accumulateWtT(block, count, p, T, k, Y);
}

/** Y += W_bᵀ T for a block of rows (T: [count, k]), four rows at a time. */
export function accumulateWtT(block: Float32Array, count: number, p: number, T: Float64Array, k: number, Y: Float64Array): void {
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const w0 = i * p, w1 = w0 + p, w2 = w1 + p, w3 = w2 + p;
    const t0 = i * k, t1 = t0 + k, t2 = t1 + k, t3 = t2 + k;
    for (let v = 0; v < p; v++) {
      const a0 = block[w0 + v], a1 = block[w1 + v], a2 = block[w2 + v], a3 = block[w3 + v];
      const yv = v * k;
      for (let c = 0; c < k; c++) Y[yv + c] += a0 * T[t0 + c] + a1 * T[t1 + c] + a2 * T[t2 + c] + a3 * T[t3 + c];
    }
  }
  for (; i < count; i++) {
    const wi = i * p;
    const ti = i * k;
    for (let v = 0; v < p; v++) {
      const w = block[wi + v];
      const yv = v * k;
      for (let c = 0; c < k; c++) Y[yv + c] += w * T[ti + c];
    }
  }
}

/** The straightforward one-row-at-a-time version of blockProducts (kept as the benchmark's reference). */
export function blockProductsReference(block: Float32Array, count: number, p: number, Q: Float64Array, k: number, T: Float64Array, Y?: Float64Array): void {
  T.fill(0, 0, count * k);
  for (let i = 0; i < count; i++) {
    const wi = i * p;
    const ti = i * k;
    for (let v = 0; v < p; v++) {
      const w = block[wi + v];
      const qv = v * k;
      for (let c = 0; c < k; c++) T[ti + c] += w * Q[qv + c];
    }
  }
  if (!Y) return;
  for (let i = 0; i < count; i++) {
    const wi = i * p;
    const ti = i * k;
    for (let v = 0; v < p; v++) {
      const w = block[wi + v];
      const yv = v * k;
      for (let c = 0; c < k; c++) Y[yv + c] += w * T[ti + c];
    }
  }
}

/**
 * The two products a pass spends its time in, on float32 blocks of W. The plain-JS kernel below is
 * the default (tests, browsers without wasm); the CLI hands in a wasm one (importers/wasmGemm.ts),
 * which is ~10-20x faster. `setRight` is called once per pass, so a wasm kernel uploads M once.
 */
export interface GemmKernel {
  readonly name: string;
  /** Fixes M [p, n] (row-major) for the following `times` calls. */
  setRight(M: Float32Array, p: number, n: number): void | Promise<void>;
  /** W_b M: [count, n] (row-major) for a block W_b [count, p]. */
  times(block: Float32Array, count: number, p: number): Promise<Float32Array>;
  /** W_bᵀ T: [p, k] (row-major) for a block W_b [count, p] and T [count, k]. */
  transposedTimes(block: Float32Array, count: number, p: number, T: Float32Array, k: number): Promise<Float32Array>;
  dispose?(): void;
}

/**
 * Plain-JS float32 kernel: 4 rows of W_b x 4 columns of M held in 16 local accumulators, the voxel
 * axis walked in chunks so the chunk of Mᵀ stays in cache while every row of the block passes over it.
 */
export function jsGemmKernel(): GemmKernel {
  let Mt = new Float32Array(0);
  let nCols = 0;
  const CHUNK = 2048;
  return {
    name: 'js (float32, 4x4 register tiles)',
    setRight(M, p, n) {
      if (Mt.length < p * n) Mt = new Float32Array(p * n);
      nCols = n;
      for (let v = 0; v < p; v++) for (let c = 0; c < n; c++) Mt[c * p + v] = M[v * n + c];
    },
    async times(block, count, p) {
      const n = nCols;
      const out = new Float32Array(count * n);
      for (let v0 = 0; v0 < p; v0 += CHUNK) {
        const v1 = Math.min(p, v0 + CHUNK);
        let i = 0;
        for (; i < count; i += 4) {
          const rows = Math.min(4, count - i);
          const w0 = i * p, w1 = rows > 1 ? w0 + p : w0, w2 = rows > 2 ? w0 + 2 * p : w0, w3 = rows > 3 ? w0 + 3 * p : w0;
          for (let c = 0; c < n; c += 4) {
            const cols = Math.min(4, n - c);
            const m0 = c * p, m1 = cols > 1 ? m0 + p : m0, m2 = cols > 2 ? m0 + 2 * p : m0, m3 = cols > 3 ? m0 + 3 * p : m0;
            let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
            let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
            for (let v = v0; v < v1; v++) {
              const a0 = block[w0 + v], a1 = block[w1 + v], a2 = block[w2 + v], a3 = block[w3 + v];
              const b0 = Mt[m0 + v], b1 = Mt[m1 + v], b2 = Mt[m2 + v], b3 = Mt[m3 + v];
              s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
              s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
              s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
              s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
            }
            const s = [s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33];
            for (let a = 0; a < rows; a++) for (let b = 0; b < cols; b++) out[(i + a) * n + c + b] += s[a * 4 + b];
          }
        }
      }
      return out;
    },
    async transposedTimes(block, count, p, T, k) {
      const Y = new Float32Array(p * k);
      accumulateWtT32(block, count, p, T, k, Y);
      return Y;
    },
  };
}

/** Y += W_bᵀ T on float32 (four rows of W at a time: each row of Y is loaded once per four rows). */
function accumulateWtT32(block: Float32Array, count: number, p: number, T: Float32Array, k: number, Y: Float32Array): void {
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const w0 = i * p, w1 = w0 + p, w2 = w1 + p, w3 = w2 + p;
    const t0 = i * k, t1 = t0 + k, t2 = t1 + k, t3 = t2 + k;
    for (let v = 0; v < p; v++) {
      const a0 = block[w0 + v], a1 = block[w1 + v], a2 = block[w2 + v], a3 = block[w3 + v];
      const yv = v * k;
      for (let c = 0; c < k; c++) Y[yv + c] += a0 * T[t0 + c] + a1 * T[t1 + c] + a2 * T[t2 + c] + a3 * T[t3 + c];
    }
  }
  for (; i < count; i++) {
    const wi = i * p;
    const ti = i * k;
    for (let v = 0; v < p; v++) {
      const w = block[wi + v];
      const yv = v * k;
      for (let c = 0; c < k; c++) Y[yv + c] += w * T[ti + c];
    }
  }
}

export async function randomizedSvd(W: RowBlockSource, opts: RandomizedSvdOptions): Promise<RandomizedSvdResult> {
  const { rows: q, cols: p } = W;
  if (!Number.isInteger(opts.rank) || opts.rank < 1) throw new RangeError(`randomizedSvd: rank must be a positive integer, got ${opts.rank}`);
  const r = Math.min(opts.rank, p, q);
  const k = Math.min(r + (opts.oversample ?? 10), p, q);
  const maxPowerIts = opts.powerIterations ?? 1;
  const target = opts.fidelityTarget;
  const blockRows = Math.max(1, opts.blockRows ?? Math.floor((32 << 20) / (4 * p)));
  const kernel = opts.kernel ?? jsGemmKernel();
  const X = opts.fidelityX;
  if (X && X.cols !== p) throw new RangeError(`randomizedSvd: fidelity trials have ${X.cols} voxels, W has ${p}`);
  const n = X ? X.rows : 0;
  // progress counts rows read; the total assumes every allowed power iteration (it shrinks if the target is met early)
  const progress = { done: 0, total: (2 + 2 * maxPowerIts) * q };
  const rng = new Rng(opts.seed ?? 1);
  let reads = 0;

  // pass 1: Y = Wᵀ Ω, Ω drawn block by block (never stored)
  const Y = new Float64Array(p * k);
  const omega = new Float32Array(blockRows * k);
  const addWtT = async (block: Float32Array, count: number, T: Float32Array) => {
    const part = await kernel.transposedTimes(block, count, p, T, k);
    for (let i = 0; i < p * k; i++) Y[i] += part[i];
  };
  reads++;
  await pass(W, blockRows, 'sketch', opts, progress, async (_s, count, block) => {
    for (let i = 0; i < count * k; i++) omega[i] = rng.normal();
    await addWtT(block, count, omega.subarray(0, count * k));
  });
  // Then, per round: Q = orth(Y); a pass for C = W Q (and, once, the full predictions X Wᵀ as W Xᵀ);
  // stop when the power iterations are spent or the fidelity target is met; else one more pass
  // Y = Wᵀ C = Wᵀ W Q (a power iteration: the same products as Halko's fused Wᵀ(W Q) pass).
  const C = new Float32Array(q * k);
  const full = new Float64Array(n * q);
  let fullDone = false;
  let factors: Factors | null = null;
  let its = 0;
  for (;;) {
    const Q = orthonormalize(Y, p, k);
    const cols = k + (fullDone ? 0 : n);
    const M = new Float32Array(p * cols);
    for (let v = 0; v < p; v++) {
      for (let c = 0; c < k; c++) M[v * cols + c] = Q[v * k + c];
      if (!fullDone) for (let t = 0; t < n; t++) M[v * cols + k + t] = X!.data[t * p + v];
    }
    await kernel.setRight(M, p, cols);
    reads++;
    await pass(W, blockRows, its ? `project ${its + 1}` : 'project', opts, progress, async (start, count, block) => {
      const out = await kernel.times(block, count, p);
      for (let i = 0; i < count; i++) {
        const o = i * cols;
        C.set(out.subarray(o, o + k), (start + i) * k);
        if (!fullDone) for (let t = 0; t < n; t++) full[t * q + start + i] = out[o + k + t];
      }
    });
    fullDone = true;
    const last = its >= maxPowerIts;
    if (last || target !== undefined) {
      factors = balancedFactors(Q, C, p, q, k, r);
      factors.fidelityR2 = X && n >= 2 ? predictionR2(full, X, factors.A16, factors.B16, n, p, q, r) : NaN;
      if (last || (target !== undefined && factors.fidelityR2 >= target)) break;
    }
    its++;
    Y.fill(0);
    reads++;
    await pass(W, blockRows, `power iteration ${its}`, opts, progress, async (start, count, block) => {
      await addWtT(block, count, C.subarray(start * k, (start + count) * k));
    });
  }
  kernel.dispose?.();
  const f = factors!;
  opts.onProgress?.(progress.total, progress.total, 'done');
  return { A: matrix(p, r, f.A16), B: matrix(r, q, f.B16), singularValues: f.sv, fidelityR2: f.fidelityR2, fidelityTrials: X ? n : 0, passes: reads, powerIterations: its };
}

interface Factors {
  A16: Float32Array;
  B16: Float32Array;
  sv: Float64Array;
  fidelityR2: number;
}

/** From Q [p, k] and C = W Q [q, k]: CᵀC = V S² Vᵀ; Wᵀ ≈ (Q V_r)(C V_r)ᵀ, balanced, float16-rounded. */
function balancedFactors(Q: Float64Array, C: Float32Array, p: number, q: number, k: number, r: number): Factors {
  const eig = symmetricEigen(gram(C, q, k), k);
  const A = new Float32Array(p * r);
  const B = new Float32Array(r * q);
  const sv = new Float64Array(r);
  const a = new Float64Array(p);
  const b = new Float64Array(q);
  for (let c = 0; c < r; c++) {
    sv[c] = Math.sqrt(Math.max(eig.values[c], 0));
    const vc = eig.vectors.subarray(c * k, c * k + k);
    for (let v = 0; v < p; v++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc += Q[v * k + j] * vc[j];
      a[v] = acc;
    }
    for (let o = 0; o < q; o++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc += C[o * k + j] * vc[j];
      b[o] = acc;
    }
    let ma = 0;
    let mb = 0;
    for (let v = 0; v < p; v++) ma = Math.max(ma, Math.abs(a[v]));
    for (let o = 0; o < q; o++) mb = Math.max(mb, Math.abs(b[o]));
    const s = ma > 0 && mb > 0 ? Math.sqrt(mb / ma) : 1;
    for (let v = 0; v < p; v++) A[v * r + c] = a[v] * s;
    for (let o = 0; o < q; o++) B[c * q + o] = b[o] / s;
  }
  return { A16: decodeFloat16(encodeFloat16(A)), B16: decodeFloat16(encodeFloat16(B)), sv, fidelityR2: NaN };
}

/**
 * The same factorisation when the matrix is only available by *voxel* rows, i.e. the source is
 * Wᵀ [nVox, nOut] (a Fortran-ordered `coef` pickle, as sklearn's Ridge leaves it). Runs
 * randomizedSvd on Wᵀ (whose result factors W), swaps and transposes the factors, and computes the
 * fidelity with one extra pass: full predictions X·Wᵀ accumulated over voxel blocks.
 */
export async function randomizedSvdOfTranspose(Wt: RowBlockSource, opts: RandomizedSvdOptions): Promise<RandomizedSvdResult> {
  const { rows: p, cols: q } = Wt;
  const X = opts.fidelityX;
  if (X && X.cols !== p) throw new RangeError(`randomizedSvd: fidelity trials have ${X.cols} voxels, Wᵀ has ${p} rows`);
  const res = await randomizedSvd(Wt, { ...opts, fidelityX: undefined });
  const r = res.A.cols;
  // res: W ≈ A' B' with A' [q, r], B' [r, p]  =>  Wᵀ ≈ B'ᵀ A'ᵀ
  const A = new Float32Array(p * r);
  const B = new Float32Array(r * q);
  for (let v = 0; v < p; v++) for (let c = 0; c < r; c++) A[v * r + c] = res.B.data[c * p + v];
  for (let c = 0; c < r; c++) for (let o = 0; o < q; o++) B[c * q + o] = res.A.data[o * r + c];
  let fidelityR2 = NaN;
  const n = X ? X.rows : 0;
  if (X && n >= 2) {
    const full = new Float64Array(n * q);
    const blockRows = Math.max(1, opts.blockRows ?? Math.floor((32 << 20) / (4 * q)));
    const tick = yieldEvery(YIELD_MS, opts.signal);
    for (let start = 0; start < p; start += blockRows) {
      await tick();
      const count = Math.min(blockRows, p - start);
      const block = await Wt.readRows(start, count);
      for (let t = 0; t < n; t++) {
        const ft = t * q;
        for (let i = 0; i < count; i++) {
          const x = X.data[t * p + start + i];
          if (x === 0) continue;
          const bi = i * q;
          for (let o = 0; o < q; o++) full[ft + o] += x * block[bi + o];
        }
      }
      opts.onProgress?.(start + count, p, 'fidelity');
    }
    fidelityR2 = predictionR2(full, X, A, B, n, p, q, r);
  }
  return { A: matrix(p, r, A), B: matrix(r, q, B), singularValues: res.singularValues, fidelityR2, fidelityTrials: n, passes: res.passes + (X ? 1 : 0), powerIterations: res.powerIterations };
}

/** 1 − Σ(full − comp)² / Σ(full − mean_trials(full))², summed over all outputs. */
function predictionR2(full: Float64Array, X: Matrix, A: Float32Array, B: Float32Array, n: number, p: number, q: number, r: number): number {
  let ssRes = 0;
  let ssTot = 0;
  const mean = new Float64Array(q);
  for (let t = 0; t < n; t++) for (let o = 0; o < q; o++) mean[o] += full[t * q + o] / n;
  const h = new Float64Array(r);
  for (let t = 0; t < n; t++) {
    h.fill(0);
    const xt = t * p;
    for (let v = 0; v < p; v++) {
      const x = X.data[xt + v];
      if (x === 0) continue;
      for (let c = 0; c < r; c++) h[c] += x * A[v * r + c];
    }
    for (let o = 0; o < q; o++) {
      let comp = 0;
      for (let c = 0; c < r; c++) comp += h[c] * B[c * q + o];
      const f = full[t * q + o];
      ssRes += (f - comp) ** 2;
      ssTot += (f - mean[o]) ** 2;
    }
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : ssRes === 0 ? 1 : -Infinity;
}

/** A RowBlockSource over an in-memory row-major matrix (tests, small heads). */
export function matrixRows(m: Matrix): RowBlockSource {
  return {
    rows: m.rows,
    cols: m.cols,
    async readRows(start, count) {
      return Float32Array.from(m.data.subarray(start * m.cols, (start + count) * m.cols));
    },
  };
}

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsGemmKernel, matrixRows, randomizedSvd, type GemmKernel } from '../../../src/core/decode/randomizedSvd.ts';
import { ortWasmGemm, tfjsWasmGemm, transposeInto } from '../../../src/core/importers/wasmGemm.ts';
import { Rng } from '../../../src/core/base/rng.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';

const wasmPaths = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
const rng = new Rng(21);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

function naiveTimes(W: Float32Array, count: number, p: number, M: Float32Array, n: number): Float64Array {
  const out = new Float64Array(count * n);
  for (let i = 0; i < count; i++) for (let c = 0; c < n; c++) for (let v = 0; v < p; v++) out[i * n + c] += W[i * p + v] * M[v * n + c];
  return out;
}
function naiveTransposed(W: Float32Array, count: number, p: number, T: Float32Array, k: number): Float64Array {
  const out = new Float64Array(p * k);
  for (let v = 0; v < p; v++) for (let c = 0; c < k; c++) for (let i = 0; i < count; i++) out[v * k + c] += W[i * p + v] * T[i * k + c];
  return out;
}
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number) {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

// odd sizes: remainder rows (count % 4), columns (n % 4) and a voxel axis longer than one cache chunk
const count = 7, p = 2100, n = 6, k = 5;
const W = rand(count * p), M = rand(p * n), T = rand(count * k);

async function checkKernel(kernel: GemmKernel) {
  await kernel.setRight(M, p, n);
  expectClose(await kernel.times(W, count, p), naiveTimes(W, count, p, M, n), 1e-4);
  // a second call must not see the first call's buffers (wasm heap reuse)
  const W2 = rand(count * p);
  const first = await kernel.times(W, count, p);
  const copy = Float32Array.from(first);
  expectClose(await kernel.times(W2, count, p), naiveTimes(W2, count, p, M, n), 1e-4);
  expect(Array.from(first)).toEqual(Array.from(copy));
  expectClose(await kernel.transposedTimes(W, count, p, T, k), naiveTransposed(W, count, p, T, k), 1e-4);
  kernel.dispose?.();
}

describe('GEMM kernels of the randomized SVD', () => {
  it('transposeInto transposes a non-square matrix', () => {
    const src = Float32Array.from({ length: 3 * 70 }, (_, i) => i);
    const dst = new Float32Array(3 * 70);
    transposeInto(src, 3, 70, dst);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 70; j++) expect(dst[j * 3 + i]).toBe(src[i * 70 + j]);
  });
  it('plain-JS float32 kernel equals the naive triple loop', async () => checkKernel(jsGemmKernel()));
  it('tfjs-wasm (XNNPACK) kernel equals the naive triple loop', async () => checkKernel(await tfjsWasmGemm(wasmPaths)));
  it('onnxruntime-web kernel equals the naive triple loop', async () => checkKernel(await ortWasmGemm()));

  it('randomizedSvd gives the same factors on the wasm kernel as in plain JS', async () => {
    const q = 45, pp = 80;
    const G = rand(q * 6), H = rand(6 * pp);
    const Wm = new Float32Array(q * pp);
    for (let o = 0; o < q; o++) for (let v = 0; v < pp; v++) {
      let a = 0;
      for (let c = 0; c < 6; c++) a += G[o * 6 + c] * H[c * pp + v] * 2 ** -c;
      Wm[o * pp + v] = (a + 0.05 * rng.normal()) * 1e-4;
    }
    const X = matrix(12, pp, rand(12 * pp));
    const js = await randomizedSvd(matrixRows(matrix(q, pp, Wm)), { rank: 4, blockRows: 8, fidelityX: X });
    const wasm = await randomizedSvd(matrixRows(matrix(q, pp, Wm)), { rank: 4, blockRows: 8, fidelityX: X, kernel: await tfjsWasmGemm(wasmPaths) });
    expect(wasm.fidelityR2).toBeCloseTo(js.fidelityR2, 4);
    expectClose(Array.from(wasm.singularValues).map((s) => s * 1e4), Array.from(js.singularValues).map((s) => s * 1e4), 1e-4);
  });

  it('fidelityTarget stops the power iterations once the R² is reached', async () => {
    const q = 40, pp = 60;
    const G = rand(q * 3), H = rand(3 * pp);
    const Wm = new Float32Array(q * pp);
    for (let o = 0; o < q; o++) for (let v = 0; v < pp; v++) for (let c = 0; c < 3; c++) Wm[o * pp + v] += G[o * 3 + c] * H[c * pp + v] * 1e-4;
    const X = matrix(10, pp, rand(10 * pp));
    const src = matrixRows(matrix(q, pp, Wm));
    const easy = await randomizedSvd(src, { rank: 3, blockRows: 16, fidelityX: X, powerIterations: 2, fidelityTarget: 0.999 });
    expect(easy.powerIterations).toBe(0);
    expect(easy.passes).toBe(2);
    expect(easy.fidelityR2).toBeGreaterThan(0.999);
    const never = await randomizedSvd(src, { rank: 3, blockRows: 16, fidelityX: X, powerIterations: 2, fidelityTarget: 1.5 });
    expect(never.powerIterations).toBe(2);
    expect(never.passes).toBe(6);
    const fixed = await randomizedSvd(src, { rank: 3, blockRows: 16, fidelityX: X, powerIterations: 1 });
    expect(fixed.passes).toBe(4);
  });
});

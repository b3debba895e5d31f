// GemmKernels on wasm for the blockwise randomized SVD (decode/randomizedSvd.ts): the import of a
// subject's ~11 billion ridge weights is nothing but block products W_b·M and W_bᵀ·T, and wasm SIMD
// runs them ~10-25x faster than plain JS (bench/results/import.json measures each candidate).
//
//  - tfjs-wasm (XNNPACK): W_b·M is a fully-connected layer with M packed once per pass: the fastest
//    we measured. XNNPACK is slow when the big operand is transposed, so W_bᵀ·T is computed as
//    (W_bᵀ)·T with W_bᵀ transposed in JS (cache-blocked) first.
//  - onnxruntime-web (MLAS wasm SIMD): MatMul and Gemm(transA=1) graphs built with onnx/builder.ts;
//    slower than XNNPACK here, kept as the second candidate the benchmark compares.
// Both run single-threaded: the import shares the machine, and a second thread buys little on 2 cores.
import type * as TF from '@tensorflow/tfjs';
import type { GemmKernel } from '../decode/randomizedSvd.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { createSession, ort } from '../onnx/runtime.ts';

/** dst [cols, rows] = srcᵀ for src [rows, cols] (row-major), in 32 x 32 tiles. */
export function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const si = i * cols;
        for (let j = j0; j < j1; j++) dst[j * rows + i] = src[si + j];
      }
    }
  }
}

let tfWasm: Promise<typeof TF> | null = null;

/** tfjs with its wasm backend active (one per JS realm; `wasmPaths`: the folder of the .wasm files). */
async function loadTfWasm(wasmPaths?: string): Promise<typeof TF> {
  tfWasm ??= (async () => {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    if (wasmPaths) wasm.setWasmPaths(wasmPaths);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not initialise its wasm backend');
    await tf.ready();
    return tf;
  })();
  const tf = await tfWasm;
  if (tf.getBackend() !== 'wasm') await tf.setBackend('wasm');
  return tf;
}

export async function tfjsWasmGemm(wasmPaths?: string): Promise<GemmKernel> {
  const tf = await loadTfWasm(wasmPaths);
  let M: TF.Tensor2D | null = null;
  let Wt = new Float32Array(0);
  return {
    name: 'tfjs-wasm (XNNPACK, 1 thread)',
    setRight(m, p, n) {
      M?.dispose();
      M = tf.tensor2d(m, [p, n]);
    },
    async times(block, count, p) {
      if (!M) throw new Error('tfjsWasmGemm: setRight was not called');
      const w = tf.tensor2d(block, [count, p]);
      const out = tf.matMul(w, M);
      const data = out.dataSync() as Float32Array;
      tf.dispose([w, out]);
      return data;
    },
    async transposedTimes(block, count, p, T, k) {
      if (Wt.length < count * p) Wt = new Float32Array(count * p);
      transposeInto(block, count, p, Wt);
      const w = tf.tensor2d(Wt.subarray(0, count * p), [p, count]);
      const t = tf.tensor2d(T.subarray(0, count * k), [count, k]);
      const out = tf.matMul(w, t);
      const data = out.dataSync() as Float32Array;
      tf.dispose([w, t, out]);
      return data;
    },
    dispose() {
      M?.dispose();
      M = null;
    },
  };
}

export async function ortWasmGemm(): Promise<GemmKernel> {
  const times = new GraphBuilder('W_M');
  times.input('W', 'float32', ['rows', 'p']).input('M', 'float32', ['p', 'n']);
  times.node('MatMul', ['W', 'M'], ['out']).output('out', 'float32', ['rows', 'n']);
  const tt = new GraphBuilder('Wt_T');
  tt.input('W', 'float32', ['rows', 'p']).input('T', 'float32', ['rows', 'k']);
  tt.node('Gemm', ['W', 'T'], ['out'], { transA: 1 }).output('out', 'float32', ['p', 'k']);
  const [sTimes, sTt] = await Promise.all([createSession(times.toBytes()), createSession(tt.toBytes())]);
  let M: ort.Tensor | null = null;
  return {
    name: 'onnxruntime-web wasm (MLAS, 1 thread)',
    setRight(m, p, n) {
      M = new ort.Tensor('float32', m, [p, n]);
    },
    async times(block, count, p) {
      if (!M) throw new Error('ortWasmGemm: setRight was not called');
      const r = await sTimes.run({ W: new ort.Tensor('float32', block.subarray(0, count * p), [count, p]), M });
      return r.out.data as Float32Array;
    },
    async transposedTimes(block, count, p, T, k) {
      const r = await sTt.run({ W: new ort.Tensor('float32', block.subarray(0, count * p), [count, p]), T: new ort.Tensor('float32', T.subarray(0, count * k), [count, k]) });
      return r.out.data as Float32Array;
    },
    dispose() {
      M = null;
    },
  };
}

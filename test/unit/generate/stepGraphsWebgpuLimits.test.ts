// WebGPU binds each input and output of a node as a storage buffer and allows 8 per compute stage.
// A Split of MIRAGE's 16 candidates into 16 outputs failed validation in Chromium (17 buffers) and
// the reconstruction went silently wrong; 3 candidates (the GPU-residency spec) happened to fit.
// This guard runs the candidate split at MIRAGE's 16 on wasm (exact rows) and checks the step
// graphs' node arity at every batch size the settings panel allows.
import { describe, expect, it } from 'vitest';
import * as onnxModule from 'onnx-proto';
import { cosineScoreGraph, splitRowsGraph } from '../../../src/core/generate/gpuSteps.ts';
import { normalizeTokens } from '../../../src/core/generate/preprocess.ts';
import { cosine } from '../../../src/core/tensor/vector.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';

type OnnxNs = typeof onnxModule.onnx;
const onnx: OnnxNs = (onnxModule as { onnx?: OnnxNs }).onnx ?? (onnxModule as unknown as { default: { onnx: OnnxNs } }).default.onnx;
const WEBGPU_STORAGE_BUFFERS_PER_STAGE = 8;

function widestNode(bytes: Uint8Array): { name: string; buffers: number } {
  let widest = { name: '', buffers: 0 };
  for (const n of onnx.ModelProto.decode(bytes).graph?.node ?? []) {
    // constant inputs (initializers such as split sizes) are read on the CPU; count data inputs + outputs
    const buffers = 1 + (n.output ?? []).length;
    if (buffers > widest.buffers) widest = { name: `${n.opType} ${n.name}`, buffers };
  }
  return widest;
}

describe('candidate split graph', () => {
  it('fits WebGPU binding limits for 1..64 candidates', () => {
    for (let batch = 1; batch <= 64; batch++) {
      for (const rowsPer of [1, 3, 16]) {
        const w = widestNode(splitRowsGraph([4, 6, 6], batch, rowsPer).toBytes());
        expect(w.buffers, `batch ${batch} by ${rowsPer}: ${w.name}`).toBeLessThanOrEqual(WEBGPU_STORAGE_BUFFERS_PER_STAGE);
      }
    }
  });

  it('splits 16 candidates into exact rows', async () => {
    const rowDims = [4, 3, 3];
    const row = 4 * 3 * 3;
    const x = Float32Array.from({ length: 16 * row }, (_, i) => i * 0.5 - 7);
    const s = await createSession(splitRowsGraph(rowDims, 16).toBytes());
    const out = await s.run({ x: new ort.Tensor('float32', x, [16, ...rowDims]) });
    for (let k = 0; k < 16; k++) {
      const r = out[`row_${k}`];
      expect(r.dims).toEqual([1, ...rowDims]);
      expect(Array.from(r.data as Float32Array)).toEqual(Array.from(x.subarray(k * row, (k + 1) * row)));
    }
    await s.release();
  });

  it('splits 16 candidates into chunks of 5 rows (the last has 1)', async () => {
    const rowDims = [2, 3];
    const row = 6;
    const x = Float32Array.from({ length: 16 * row }, (_, i) => i * 0.25 - 3);
    const s = await createSession(splitRowsGraph(rowDims, 16, 5).toBytes());
    const out = await s.run({ x: new ort.Tensor('float32', x, [16, ...rowDims]) });
    expect(Object.keys(out).sort()).toEqual(['row_0', 'row_1', 'row_2', 'row_3']);
    for (let k = 0; k < 4; k++) {
      const rows = Math.min(5, 16 - 5 * k);
      expect(out[`row_${k}`].dims).toEqual([rows, ...rowDims]);
      expect(Array.from(out[`row_${k}`].data as Float32Array)).toEqual(Array.from(x.subarray(5 * k * row, (5 * k + rows) * row)));
    }
    await s.release();
  });
});

describe('batched retrieval score graph', () => {
  it('scores each candidate like the one-candidate graph and like the TypeScript cosine', async () => {
    const [tokens, dim, batch] = [5, 8, 4];
    let v = 1;
    const rnd = () => ((v = (v * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const h = Float32Array.from({ length: batch * tokens * dim }, rnd);
    h.fill(0, 2 * dim, 3 * dim); // a zero token (scored as 0, as normalizeTokens leaves it)
    const target = normalizeTokens(Float32Array.from({ length: tokens * dim }, rnd), dim);
    const batched = await createSession(cosineScoreGraph(tokens, dim, batch).toBytes());
    const single = await createSession(cosineScoreGraph(tokens, dim).toBytes());
    const tt = new ort.Tensor('float32', target, [1, tokens, dim]);
    const scores = (await batched.run({ h: new ort.Tensor('float32', h, [batch, tokens, dim]), target: tt })).score;
    expect(scores.dims).toEqual([batch]);
    for (let k = 0; k < batch; k++) {
      const row = h.slice(k * tokens * dim, (k + 1) * tokens * dim);
      const one = (await single.run({ h: new ort.Tensor('float32', row, [1, tokens, dim]), target: tt })).score.data[0] as number;
      const ts = cosine(normalizeTokens(row, dim), target);
      expect(Math.abs((scores.data[k] as number) - one)).toBeLessThanOrEqual(1e-6);
      expect(Math.abs((scores.data[k] as number) - ts)).toBeLessThanOrEqual(1e-5);
    }
    await batched.release();
    await single.release();
  });
});

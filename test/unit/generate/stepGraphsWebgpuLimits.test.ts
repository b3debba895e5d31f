// WebGPU binds each input and output of a node as a storage buffer and allows 8 per compute stage.
// A Split of MIRAGE's 16 candidates into 16 outputs failed validation in Chromium (17 buffers) and
// the reconstruction went silently wrong; 3 candidates (the GPU-residency spec) happened to fit.
// This guard runs the candidate split at MIRAGE's 16 on wasm (exact rows) and checks the step
// graphs' node arity at every batch size the settings panel allows.
import { describe, expect, it } from 'vitest';
import * as onnxModule from 'onnx-proto';
import { splitRowsGraph } from '../../../src/core/generate/gpuSteps.ts';
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
      const w = widestNode(splitRowsGraph([4, 6, 6], batch).toBytes());
      expect(w.buffers, `batch ${batch}: ${w.name}`).toBeLessThanOrEqual(WEBGPU_STORAGE_BUFFERS_PER_STAGE);
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
});

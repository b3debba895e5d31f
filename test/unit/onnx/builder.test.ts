import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../../src/core/onnx/builder.ts';
import { createSession, runFloat } from '../../../src/core/onnx/runtime.ts';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

describe('ONNX builder + onnxruntime-web (wasm)', () => {
  it('runs MatMul+Add+Relu and matches a JS computation', async () => {
    const r = lcg(7);
    const nIn = 13;
    const nOut = 9;
    const batch = 4;
    const W = Float32Array.from({ length: nIn * nOut }, r);
    const b = Float32Array.from({ length: nOut }, r);
    const x = Float32Array.from({ length: batch * nIn }, r);
    const g = new GraphBuilder('mlp');
    g.input('x', 'float32', ['batch', nIn]).output('y', 'float32', ['batch', nOut]);
    g.initializer('W', W, [nIn, nOut]).initializer('b', b, [nOut]);
    g.node('MatMul', ['x', 'W'], ['xw']).node('Add', ['xw', 'b'], ['pre']).node('Relu', ['pre'], ['y']);
    const bytes = g.toBytes();
    expect(bytes.byteLength).toBeGreaterThan(4 * (nIn * nOut + nOut));
    const s = await createSession(bytes);
    const { data, dims } = await runFloat(s, { x: { data: x, dims: [batch, nIn] } }, 'y');
    expect([...dims]).toEqual([batch, nOut]);
    let zeros = 0;
    for (let i = 0; i < batch; i++) {
      for (let j = 0; j < nOut; j++) {
        let acc = b[j];
        for (let k = 0; k < nIn; k++) acc += x[i * nIn + k] * W[k * nOut + j];
        const want = Math.max(0, acc);
        if (want === 0) zeros++;
        expect(data[i * nOut + j]).toBeCloseTo(want, 5);
      }
    }
    expect(zeros).toBeGreaterThan(0); // the Relu actually clipped something
  });

  it('supports int64 shape constants (Reshape) and attributes (Transpose perm)', async () => {
    const g = new GraphBuilder('reshape');
    g.input('x', 'float32', [2, 6]).output('y', 'float32', [3, 4]);
    const shp = g.int64s([4, 3]);
    const r = g.op('Reshape', ['x', shp]);
    g.node('Transpose', [r], ['y'], { perm: [1, 0] });
    const s = await createSession(g.toBytes());
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const { data } = await runFloat(s, { x: { data: x, dims: [2, 6] } }, 'y');
    // reshape to [4,3] then transpose -> y[i][j] = x[j*3+i]
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expect(data[i * 4 + j]).toBe(j * 3 + i);
  });

  it('rejects duplicate value names', () => {
    const g = new GraphBuilder('dup');
    g.input('x', 'float32', [1]);
    expect(() => g.node('Relu', ['x'], ['x'])).toThrow(/defined twice/);
  });
});

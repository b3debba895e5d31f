import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TensorRef } from '../../../src/core/bundle/manifest.ts';
import { createBackend, type BackendName } from '../../../src/core/decode/backend.ts';
import { predictHead, projectHead, type LoadedHead } from '../../../src/core/decode/predict.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';

const WASM = join(import.meta.dirname, '../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/');

function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
}
function head(
  name: 'image' | 'retrieval',
  p: number,
  r: number,
  shape: number[],
  norms: Partial<LoadedHead['spec']> = {},
): LoadedHead {
  const q = shape.reduce((a, b) => a * b, 1);
  const rand = rng(name.length);
  const ref: TensorRef = { shard: 'x', offset: 0, dtype: 'float16', shape: [] };
  return {
    spec: {
      name,
      role: 't',
      outputShape: shape,
      rank: r,
      A: ref,
      B: ref,
      intercept: ref,
      inputNorm: 'none',
      outputNorm: 'none',
      penalty: 1,
      fidelity: { r2: 1, trials: 0 },
      ...norms,
    },
    A: Float32Array.from({ length: p * r }, rand),
    B: Float32Array.from({ length: r * q }, rand),
    intercept: Float32Array.from({ length: q }, rand),
  };
}

describe('decoder backends agree with the plain-JS reference', () => {
  const p = 300;
  const heads = [
    head('image', p, 16, [40]),
    head('retrieval', p, 8, [3, 10], { inputNorm: 'l2', outputNorm: 'l2-token' }),
  ];
  const n = 5;
  const betas = Float32Array.from({ length: n * p }, rng(42));
  for (const name of ['cpu', 'wasm', 'js'] as BackendName[]) {
    it(`${name}: predict and project match predictHead/projectHead to float32 tolerance`, async () => {
      const be = await createBackend([name], { wasmPaths: WASM });
      expect(be.name).toBe(name);
      for (const h of heads) await be.setHead(h);
      for (const h of heads) {
        const pred = await be.predict(h.spec.name, betas, n);
        expect(pred.length).toBe((n * h.B.length) / h.spec.rank);
        expect(maxRelativeError(pred, predictHead(h, betas, n))).toBeLessThan(1e-5);
        const proj = await be.project(h.spec.name, betas, n);
        expect(proj.length).toBe(n * h.spec.rank);
        expect(maxRelativeError(proj, projectHead(h, betas, n))).toBeLessThan(1e-5);
      }
      await expect(be.predict('text', betas, n)).rejects.toThrow(/not set/);
      await expect(be.predict('image', betas.subarray(1), n)).rejects.toThrow(/betas/);
      be.dispose();
    });
  }

  it('createBackend falls back in order and names the backend in use', async () => {
    const failed: string[] = [];
    const be = await createBackend(['webgpu', 'cpu', 'js'], { onFallback: (name) => failed.push(name) });
    expect(failed).toEqual(['webgpu']); // Node has no navigator.gpu
    expect(be.name).toBe('cpu');
    be.dispose();
    await expect(createBackend(['webgpu'])).rejects.toThrow(/webgpu: navigator.gpu/);
  });
});

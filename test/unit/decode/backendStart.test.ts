// Overlapping backend starts in a fresh realm (own file: vitest gives it a fresh tfjs, so wasm is not
// initialised yet). React's development double effect starts the cortex worker's backend twice; before
// createBackend serialised its starts, one of two overlapping starts fell back to cpu here and the
// browser showed "Backend 'wasm' has not yet been initialized".
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TensorRef } from '../../../src/core/bundle/manifest.ts';
import { createBackend } from '../../../src/core/decode/backend.ts';
import { predictHead, type LoadedHead } from '../../../src/core/decode/predict.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';

const WASM = join(import.meta.dirname, '../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/');

function smallHead(): LoadedHead {
  const ref: TensorRef = { shard: 'x', offset: 0, dtype: 'float16', shape: [] };
  return {
    spec: { name: 'image', role: 't', outputShape: [3], rank: 2, A: ref, B: ref, intercept: ref, inputNorm: 'none', outputNorm: 'none', penalty: 1, fidelity: { r2: 1, trials: 0 } },
    A: Float32Array.from([0.5, -1, 2, 0.25, -0.75, 1.5, 1, 0]),
    B: Float32Array.from([1, 2, -1, 0.5, 0, 3]),
    intercept: Float32Array.from([0.1, -0.2, 0.3]),
  };
}

describe('createBackend', () => {
  it('overlapping starts each get the first backend that works, and compute', async () => {
    const fell: string[] = [];
    const bes = await Promise.all([0, 1, 2].map(() => createBackend(['wasm', 'cpu'], { wasmPaths: WASM, onFallback: (name) => fell.push(name) })));
    expect(fell).toEqual([]);
    expect(bes.map((b) => b.name)).toEqual(['wasm', 'wasm', 'wasm']);
    const h = smallHead();
    const betas = Float32Array.from([1, -2, 0.5, 3]);
    for (const be of bes) {
      await be.setHead(h);
      expect(maxRelativeError(await be.predict('image', betas, 1), predictHead(h, betas, 1))).toBeLessThan(1e-5);
      be.dispose();
    }
  });
});

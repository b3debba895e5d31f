import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeadSchema, type TensorRef } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';
import { addHead, headShardPath } from '../../../src/core/decode/headBuilder.ts';
import {
  averageRows,
  groupRepeats,
  loadHead,
  normalizePredictions,
  predictHead,
  projectHead,
  type LoadedHead,
} from '../../../src/core/decode/predict.ts';
import { decodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const NORM = join(import.meta.dirname, '../../fixtures/ridge/normalize');
const npy = (f: string) => readNpy(new Uint8Array(readFileSync(join(NORM, f))), f).data as Float32Array;

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
}

function makeHead(p: number, r: number, shape: number[], opts: Partial<LoadedHead['spec']> = {}): LoadedHead {
  const q = shape.reduce((a, b) => a * b, 1);
  const rand = rng(3);
  const ref: TensorRef = { shard: 'x', offset: 0, dtype: 'float16', shape: [] };
  return {
    spec: {
      name: 'image', role: 'test', outputShape: shape, rank: r, A: ref, B: ref, intercept: ref,
      inputNorm: 'none', outputNorm: 'none', penalty: 1, fidelity: { r2: 1, trials: 0 }, ...opts,
    },
    A: Float32Array.from({ length: p * r }, rand),
    B: Float32Array.from({ length: r * q }, rand),
    intercept: Float32Array.from({ length: q }, rand),
  };
}

/** Direct (x·(A·B)) + b, float64, as an independent check of the factored order. */
function dense(h: LoadedHead, x: Float32Array, n: number): Float64Array {
  const r = h.spec.rank;
  const q = h.B.length / r;
  const p = h.A.length / r;
  const out = new Float64Array(n * q);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < q; o++) {
      let acc = h.intercept[o];
      for (let j = 0; j < p; j++) {
        let w = 0;
        for (let k = 0; k < r; k++) w += h.A[j * r + k] * h.B[k * q + o];
        acc += x[i * p + j] * w;
      }
      out[i * q + o] = acc;
    }
  return out;
}

describe('predictHead (plain-JS reference)', () => {
  it('equals x·(A·B) + intercept', () => {
    const h = makeHead(30, 4, [6]);
    const x = Float32Array.from({ length: 3 * 30 }, rng(9));
    const got = predictHead(h, x, 3);
    const want = dense(h, x, 3);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(projectHead(h, x, 3).length).toBe(3 * 4);
  });

  it('projectHead is x·A per trial, summed in voxel order in float64 (a block of four trials and a remainder)', () => {
    const p = 30;
    const h = makeHead(p, 4, [6]);
    const x = Float32Array.from({ length: 6 * p }, rng(11));
    const want = new Float32Array(6 * 4);
    for (let i = 0; i < 6; i++)
      for (let k = 0; k < 4; k++) {
        let acc = 0;
        for (let j = 0; j < p; j++) acc += x[i * p + j] * h.A[j * 4 + k];
        want[i * 4 + k] = acc;
      }
    expect(projectHead(h, x, 6)).toEqual(want);
  });

  it("inputNorm 'l2' makes the output invariant to the betas' scale", () => {
    const h = makeHead(20, 3, [5], { inputNorm: 'l2' });
    const x = Float32Array.from({ length: 2 * 20 }, rng(5));
    const a = predictHead(h, x, 2);
    const b = predictHead(h, x.map((v) => v * 7.5), 2);
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 5));
    const plain = predictHead({ ...h, spec: { ...h.spec, inputNorm: 'none' } }, x, 2);
    expect(Math.abs(plain[0] - a[0])).toBeGreaterThan(1e-3);
  });

  it("outputNorm 'l2-token' gives unit-norm tokens", () => {
    const h = makeHead(10, 2, [3, 4], { outputNorm: 'l2-token' });
    const out = predictHead(h, Float32Array.from({ length: 2 * 10 }, rng(1)), 2);
    for (let t = 0; t < 6; t++) {
      let ss = 0;
      for (let k = 0; k < 4; k++) ss += out[t * 4 + k] ** 2;
      expect(ss).toBeCloseTo(1, 5);
    }
  });

  it('rejects betas of the wrong length', () => {
    expect(() => predictHead(makeHead(10, 2, [3]), new Float32Array(25), 2)).toThrow(/betas/);
  });
});

describe('normalizePredictions (MIRAGE)', () => {
  it('matches numpy: (pred - mean) / std(ddof=0) * targetStd + targetMean', () => {
    const pred = npy('pred.npy');
    const { values, batch } = normalizePredictions(pred, 7, 5, npy('target_mean.npy'), npy('target_std.npy'), 'test batch');
    const want = npy('normalized.npy');
    values.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(batch).toMatchObject({ size: 7, label: 'test batch', constantDims: 0 });
  });
  it('maps a constant dimension (or a batch of one) to the target mean and says so', () => {
    const { values, batch } = normalizePredictions(Float32Array.from([1, 2]), 1, 2, [5, 6], [1, 1]);
    expect(Array.from(values)).toEqual([5, 6]);
    expect(batch.constantDims).toBe(2);
  });
});

describe('repeats', () => {
  const t = (stimulus: number, condition: 'vision' | 'imagery', subject = 1) => ({
    subject, run: 'visA', stimulus, condition, repeat: 0, betas: { shard: 's', offset: 0 },
  });
  it('groups by stimulus x condition and averages rows', () => {
    const trials = [t(1, 'imagery'), t(0, 'vision'), t(1, 'vision'), t(0, 'vision'), t(0, 'vision', 2), t(1, 'imagery')];
    const g = groupRepeats(trials, 1);
    expect(g.map((x) => [x.stimulus, x.condition, x.trials])).toEqual([
      [0, 'vision', [1, 3]],
      [1, 'vision', [2]],
      [1, 'imagery', [0, 5]],
    ]);
    const rows = Float32Array.from([1, 10, 2, 20, 3, 30, 4, 40]);
    expect(Array.from(averageRows(rows, 2, [[0, 2], [1, 2, 3]]))).toEqual([2, 20, 3, 30]);
    expect(Array.from(averageRows(rows, 2, [[1, 2, 3]], 1))).toEqual([2, 20]);
  });
});

describe('addHead / loadHead', () => {
  it('writes float16 factors and float32 vectors into subj0N/heads/<name>.bin and reads them back', async () => {
    const files = new Map<string, Uint8Array>();
    const w = new BundleWriter({ write: async (p, b) => void files.set(p, b) });
    const rand = rng(11);
    const A = matrix(8, 2, Float32Array.from({ length: 16 }, rand));
    const B = matrix(2, 6, Float32Array.from({ length: 12 }, rand));
    const head = addHead(w, 2, {
      name: 'text', role: 'tokens', outputShape: [2, 3], A, B,
      intercept: new Float32Array(6).fill(0.5), targetMean: new Float32Array(6).fill(1), targetStd: new Float32Array(6).fill(2),
      outputNorm: 'l2-token', penalty: 1e5, fidelity: { r2: 0.99, trials: 10 },
    });
    expect(HeadSchema.parse(head)).toEqual(head);
    expect(head.A.shard).toBe('subj02/heads/text.bin');
    expect(headShardPath(2, 'text')).toBe(head.A.shard);
    expect(head.A.dtype).toBe('float16');
    expect(head.intercept.dtype).toBe('float32');
    await w.closeShard(head.A.shard);
    const bytes = files.get(head.A.shard)!;
    const reader = {
      async tensor(ref: TensorRef) {
        const n = ref.shape.reduce((a, b) => a * b, 1);
        const buf = bytes.slice(ref.offset, ref.offset + n * (ref.dtype === 'float16' ? 2 : 4)).buffer;
        return ref.dtype === 'float16' ? decodeFloat16(new Uint16Array(buf)) : new Float32Array(buf);
      },
    };
    const loaded = await loadHead(reader, head);
    loaded.A.forEach((v, i) => expect(v).toBeCloseTo(A.data[i], 2));
    expect(Array.from(loaded.targetStd!)).toEqual(new Array(6).fill(2));
    expect(() =>
      addHead(w, 2, { name: 'image', role: '', outputShape: [5], A, B, intercept: new Float32Array(5), penalty: 1, fidelity: { r2: 1, trials: 0 } }),
    ).toThrow(/B has 6 columns/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAlpha, predictSolution, r2Score, RidgePath } from '../../../src/core/decode/ridge.ts';
import { symmetricEigen } from '../../../src/core/decode/eigen.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { matrix64, type Matrix } from '../../../src/core/tensor/matrix.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';

const DIR = join(import.meta.dirname, '../../fixtures/ridge');
interface Case {
  name: string;
  trials: number;
  voxels: number;
  outputs: number;
  alphas: number[];
  valR2: number[];
}
const cases = (JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: Case[] }).cases;

function load(c: string, f: string): Matrix<Float64Array> {
  const a = readNpy(new Uint8Array(readFileSync(join(DIR, c, f))), f);
  const rows = a.shape.length === 1 ? 1 : a.shape[0];
  const cols = a.shape.length === 1 ? a.shape[0] : a.shape[1];
  return matrix64(rows, cols, Float64Array.from(a.data as Float64Array));
}

/** Largest element error relative to the largest reference magnitude. */

describe('symmetricEigen', () => {
  it('diagonalises a random symmetric matrix (A v = λ v, orthonormal, descending)', () => {
    const n = 40;
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rand();
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[i * n + j] * vectors[k * n + j];
        expect(Math.abs(s - values[k] * vectors[k * n + i])).toBeLessThan(1e-12);
      }
      for (let l = 0; l < n; l++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += vectors[k * n + j] * vectors[l * n + j];
        expect(Math.abs(s - (k === l ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });
  it('handles repeated eigenvalues (identity and a rank-1 matrix)', () => {
    const n = 6;
    const id = new Float64Array(n * n);
    for (let i = 0; i < n; i++) id[i * n + i] = 2;
    expect(Array.from(symmetricEigen(id, n).values)).toEqual(new Array(n).fill(2));
    const r1 = new Float64Array(n * n).fill(1);
    const v = symmetricEigen(r1, n).values;
    expect(v[0]).toBeCloseTo(n, 12);
    for (let k = 1; k < n; k++) expect(Math.abs(v[k])).toBeLessThan(1e-12);
  });
});

describe('RidgePath matches scikit-learn Ridge(fit_intercept=True)', () => {
  for (const c of cases) {
    for (const form of ['kernel', 'primal'] as const) {
      it(`${c.name} (${c.trials} trials x ${c.voxels} voxels -> ${c.outputs}), ${form} form`, () => {
        const X = load(c.name, 'X.npy');
        const Y = load(c.name, 'Y.npy');
        const path = new RidgePath(X, Y, { form });
        expect(path.form).toBe(form);
        c.alphas.forEach((alpha, i) => {
          const sol = path.solve(alpha);
          const coef = load(c.name, `coef_${i}.npy`);
          const icpt = load(c.name, `intercept_${i}.npy`);
          expect(sol.coef.rows).toBe(c.outputs);
          expect(sol.coef.cols).toBe(c.voxels);
          expect(maxRelativeError(sol.coef.data, coef.data)).toBeLessThan(1e-5);
          expect(maxRelativeError(sol.intercept, icpt.data)).toBeLessThan(1e-5);
        });
      });
    }
  }

  it('picks the default form by shape (kernel when trials < voxels)', () => {
    expect(new RidgePath(load('wide', 'X.npy'), load('wide', 'Y.npy')).form).toBe('kernel');
    expect(new RidgePath(load('tall', 'X.npy'), load('tall', 'Y.npy')).form).toBe('primal');
  });

  it('chooseAlpha scores held-out R² like sklearn r2_score and picks the best', () => {
    for (const c of cases) {
      const path = new RidgePath(load(c.name, 'X.npy'), load(c.name, 'Y.npy'));
      const Xv = load(c.name, 'Xval.npy');
      const Yv = load(c.name, 'Yval.npy');
      const { alpha, scores } = chooseAlpha(path, Xv, Yv, c.alphas);
      scores.forEach((s, i) => expect(s).toBeCloseTo(c.valR2[i], 8));
      const best = c.valR2.indexOf(Math.max(...c.valR2));
      expect(alpha).toBe(c.alphas[best]);
      // The fast predictor agrees with predicting from the explicit solution.
      const sol = path.solve(c.alphas[0]);
      expect(r2Score(Yv, predictSolution(sol, Xv))).toBeCloseTo(c.valR2[0], 8);
      // After solve() the kernel form projects through its cached P instead: same scores.
      chooseAlpha(path, Xv, Yv, c.alphas).scores.forEach((s, i) => expect(s).toBeCloseTo(scores[i], 10));
    }
  });

  it('rejects bad input', () => {
    const X = load('wide', 'X.npy');
    const Y = load('tall', 'Y.npy');
    expect(() => new RidgePath(X, Y)).toThrow(/trials/);
    const path = new RidgePath(X, load('wide', 'Y.npy'));
    expect(() => path.solve(0)).toThrow(/positive/);
    expect(() => path.solve(-1)).toThrow(/positive/);
  });

  it('stops when aborted', () => {
    const ctl = new AbortController();
    ctl.abort();
    expect(() => new RidgePath(load('wide', 'X.npy'), load('wide', 'Y.npy'), { signal: ctl.signal })).toThrow(
      /cancelled/,
    );
  });
});

describe('sliceOutputs', () => {
  it('a joint fit of concatenated targets, sliced, equals separate fits', async () => {
    const { sliceOutputs } = await import('../../../src/core/decode/ridge.ts');
    const X = load('wide', 'X.npy');
    const Y = load('wide', 'Y.npy');
    const joint = sliceOutputs(new RidgePath(X, Y).solve(10), 2, 4);
    const Y2 = matrix64(Y.rows, 2, new Float64Array(Y.rows * 2));
    for (let i = 0; i < Y.rows; i++) for (let j = 0; j < 2; j++) Y2.data[i * 2 + j] = Y.data[i * Y.cols + 2 + j];
    const sep = new RidgePath(X, Y2).solve(10);
    expect(maxRelativeError(joint.coef.data, sep.coef.data)).toBeLessThan(1e-10);
    expect(maxRelativeError(joint.intercept, sep.intercept)).toBeLessThan(1e-10);
    expect(() => sliceOutputs(sep, 1, 5)).toThrow(/outside/);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reduceRank } from '../../../src/core/decode/reducedRank.ts';
import { RidgePath, type RidgeSolution } from '../../../src/core/decode/ridge.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { matrix64, type Matrix } from '../../../src/core/tensor/matrix.ts';

const DIR = join(import.meta.dirname, '../../fixtures/ridge');
function load(c: string, f: string): Matrix<Float64Array> {
  const a = readNpy(new Uint8Array(readFileSync(join(DIR, c, f))), f);
  const rows = a.shape.length === 1 ? 1 : a.shape[0];
  return matrix64(rows, a.data.length / rows, Float64Array.from(a.data as Float64Array));
}
function solution(c: string, ai: number): RidgeSolution {
  const coef = load(c, `coef_${ai}.npy`);
  return { alpha: 1, coef, intercept: load(c, `intercept_${ai}.npy`).data };
}
function product(A: Matrix, B: Matrix): Float64Array {
  const out = new Float64Array(A.rows * B.cols);
  for (let i = 0; i < A.rows; i++)
    for (let k = 0; k < A.cols; k++)
      for (let j = 0; j < B.cols; j++) out[i * B.cols + j] += A.data[i * A.cols + k] * B.data[k * B.cols + j];
  return out;
}

describe('reduceRank (truncated SVD of coef, float16 factors)', () => {
  for (const [c, ai, rank] of [['wide', 1, 3], ['tall', 1, 2]] as const) {
    it(`${c}: A·B equals numpy's rank-${rank} SVD truncation to float16 precision`, () => {
      const sol = solution(c, ai);
      const red = reduceRank(sol, rank);
      const want = load(c, `lowrank${rank}_${ai}.npy`); // [p, q]
      expect(red.A.rows).toBe(sol.coef.cols);
      expect(red.A.cols).toBe(rank);
      expect(red.B.rows).toBe(rank);
      expect(red.B.cols).toBe(sol.coef.rows);
      const got = product(red.A, red.B);
      let maxRef = 0;
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) {
        maxRef = Math.max(maxRef, Math.abs(want.data[i]));
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want.data[i]));
      }
      expect(maxDiff / maxRef).toBeLessThan(3e-3); // float16 has 11 significant bits
      const S = load(c, `singular_${ai}.npy`).data;
      for (let k = 0; k < rank; k++) expect(red.singularValues[k]).toBeCloseTo(S[k], 10);
      // Factors are exactly representable in float16 (what the bundle stores).
      for (const v of [...red.A.data.slice(0, 50), ...red.B.data.slice(0, 50)]) {
        expect(Math.fround(v)).toBe(v);
      }
    });
  }

  it('fidelity grows with rank and reaches ~1 at full rank; held-out fidelity uses predictions', () => {
    const X = load('wide', 'X.npy');
    const Y = load('wide', 'Y.npy');
    const Xv = load('wide', 'Xval.npy');
    const sol = new RidgePath(X, Y).solve(10);
    const f = [1, 2, 3, 5].map((r) => reduceRank(sol, r, Xv));
    for (let i = 1; i < f.length; i++) expect(f[i].fidelityR2).toBeGreaterThan(f[i - 1].fidelityR2);
    expect(f[0].fidelityR2).toBeLessThan(0.9);
    expect(f[3].fidelityR2).toBeGreaterThan(0.9999);
    expect(f[3].fidelityTrials).toBe(Xv.rows);
    const coefOnly = reduceRank(sol, 2);
    expect(coefOnly.fidelityTrials).toBe(0);
    expect(coefOnly.fidelityR2).toBeGreaterThan(0);
    expect(coefOnly.fidelityR2).toBeLessThan(1);
  });

  it('gives the compressed head an intercept through the training means (x̄ ↦ ȳ)', () => {
    const X = load('tall', 'X.npy'); // non-zero voxel means
    const path = new RidgePath(X, load('tall', 'Y.npy'));
    const sol = path.solve(1);
    const red = reduceRank(sol, 2);
    const r = red.A.cols;
    const q = red.B.cols;
    const h = new Float64Array(r);
    for (let j = 0; j < X.cols; j++) for (let k = 0; k < r; k++) h[k] += path.xMean[j] * red.A.data[j * r + k];
    for (let o = 0; o < q; o++) {
      let y = red.intercept[o];
      for (let k = 0; k < r; k++) y += h[k] * red.B.data[k * q + o];
      expect(y).toBeCloseTo(path.yMean[o], 9);
    }
    expect(Math.abs(red.intercept[0] - sol.intercept[0])).toBeGreaterThan(1e-6); // it did change
    const noMean = reduceRank({ ...sol, xMean: undefined }, 2);
    expect(Array.from(noMean.intercept)).toEqual(Array.from(sol.intercept));
  });

  it('clamps the rank to min(voxels, outputs) and rejects a bad rank', () => {
    const sol = solution('single', 0);
    expect(reduceRank(sol, 8).A.cols).toBe(1);
    expect(() => reduceRank(sol, 0)).toThrow(/rank/);
    expect(() => reduceRank(sol, 1.5)).toThrow(/rank/);
  });
});

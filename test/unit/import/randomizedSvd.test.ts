import { describe, expect, it } from 'vitest';
import { matrixRows, orthonormalize, randomizedSvd } from '../../../src/core/decode/randomizedSvd.ts';
import { Rng } from '../../../src/core/base/rng.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';

function lowRank(q: number, p: number, r: number, noise: number, seed: number) {
  const rng = new Rng(seed);
  const G = Float64Array.from({ length: q * r }, () => rng.normal());
  const H = Float64Array.from({ length: r * p }, () => rng.normal() / (1 + 0));
  const W = new Float32Array(q * p);
  for (let o = 0; o < q; o++)
    for (let v = 0; v < p; v++) {
      let acc = 0;
      for (let c = 0; c < r; c++) acc += G[o * r + c] * H[c * p + v] * 2 ** -c;
      W[o * p + v] = (acc + noise * rng.normal()) * 1e-4; // ridge-sized weights
    }
  return W;
}

describe('blockwise randomized SVD', () => {
  it('orthonormalizes columns', () => {
    const rng = new Rng(3);
    const Y = Float64Array.from({ length: 50 * 6 }, () => rng.normal());
    const Q = orthonormalize(Y, 50, 6);
    for (let a = 0; a < 6; a++)
      for (let b = 0; b < 6; b++) {
        let d = 0;
        for (let i = 0; i < 50; i++) d += Q[i * 6 + a] * Q[i * 6 + b];
        expect(d).toBeCloseTo(a === b ? 1 : 0, 10);
      }
  });

  it('recovers an exactly low-rank W from row blocks (predictions R² ≈ 1, float16 limited)', async () => {
    const q = 37, p = 60;
    const W = lowRank(q, p, 4, 0, 11);
    const rng = new Rng(5);
    const X = matrix(20, p, Float32Array.from({ length: 20 * p }, () => rng.normal()));
    let reads = 0;
    const src = matrixRows(matrix(q, p, W));
    const counting = { ...src, readRows: (s: number, c: number) => { reads++; expect(c).toBeLessThanOrEqual(5); return src.readRows(s, c); } };
    const res = await randomizedSvd(counting, { rank: 4, blockRows: 5, fidelityX: X, seed: 2 });
    expect(res.A.rows).toBe(p);
    expect(res.A.cols).toBe(4);
    expect(res.B.cols).toBe(q);
    expect(reads).toBe(res.passes * Math.ceil(q / 5));
    expect(res.fidelityR2).toBeGreaterThan(0.9999);
    expect(res.fidelityR2).toBeLessThanOrEqual(1);
    // Wᵀ ≈ A B elementwise (float16 relative error)
    let err = 0, tot = 0;
    for (let v = 0; v < p; v++)
      for (let o = 0; o < q; o++) {
        let ab = 0;
        for (let c = 0; c < 4; c++) ab += res.A.data[v * 4 + c] * res.B.data[c * q + o];
        err += (ab - W[o * p + v]) ** 2;
        tot += W[o * p + v] ** 2;
      }
    expect(err / tot).toBeLessThan(1e-5);
  });

  it('fidelity falls when the rank is cut below the signal rank, and singular values descend', async () => {
    const q = 40, p = 50;
    const W = lowRank(q, p, 8, 0.01, 12);
    const rng = new Rng(6);
    const X = matrix(15, p, Float32Array.from({ length: 15 * p }, () => rng.normal()));
    const lo = await randomizedSvd(matrixRows(matrix(q, p, W)), { rank: 2, fidelityX: X });
    const hi = await randomizedSvd(matrixRows(matrix(q, p, W)), { rank: 8, fidelityX: X });
    expect(lo.fidelityR2).toBeLessThan(hi.fidelityR2);
    expect(hi.fidelityR2).toBeGreaterThan(0.99);
    for (let i = 1; i < hi.singularValues.length; i++) expect(hi.singularValues[i]).toBeLessThanOrEqual(hi.singularValues[i - 1]);
  });
});

describe('blocked kernel', () => {
  it('blockProducts (4 rows at a time) equals the one-row reference, remainder rows included', async () => {
    const { blockProducts, blockProductsReference } = await import('../../../src/core/decode/randomizedSvd.ts');
    const rng = new Rng(4);
    const p = 33, k = 5, count = 7;
    const block = Float32Array.from({ length: count * p }, () => rng.normal());
    const Q = Float64Array.from({ length: p * k }, () => rng.normal());
    const [T1, T2] = [new Float64Array(count * k), new Float64Array(count * k)];
    const [Y1, Y2] = [new Float64Array(p * k), new Float64Array(p * k)];
    blockProductsReference(block, count, p, Q, k, T1, Y1);
    blockProducts(block, count, p, Q, k, T2, Y2);
    Array.from(T2).forEach((v, i) => expect(v).toBeCloseTo(T1[i], 10));
    Array.from(Y2).forEach((v, i) => expect(v).toBeCloseTo(Y1[i], 9));
  });
});

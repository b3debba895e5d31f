import { describe, expect, it } from 'vitest';
import { driveTowardTarget } from '../../../src/core/cortex/drive.ts';
import { LinearChangeEngine, cosine, norm } from '../../../src/core/cortex/engine.ts';
import { fullDecode, gauss, makeHead, randn, rng } from './helpers.ts';

const NVOX = 400;
const OUT = 48;
const RANK = 10;

function setup(seed: number) {
  const r = rng(seed);
  const head = makeHead('image', NVOX, RANK, [OUT], r);
  const x = randn(NVOX, r);
  const region = Int32Array.from({ length: 120 }, (_, i) => 50 + 2 * i);
  // A target the decoder can express: intercept + something in B's row space, plus off-space noise.
  const coeff = randn(RANK, r, 2);
  const target = new Float32Array(OUT);
  for (let j = 0; j < OUT; j++) {
    let s = head.intercept[j] + 0.05 * gauss(r);
    for (let k = 0; k < RANK; k++) s += coeff[k] * head.B[k * OUT + j];
    target[j] = s;
  }
  return { r, head, x, region, target };
}

function applied(x: Float32Array, d: { indices: Int32Array; values: Float32Array }): Float32Array {
  const y = Float32Array.from(x);
  d.indices.forEach((v, j) => (y[v] += d.values[j]));
  return y;
}

function dist(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

describe('drive toward a target', () => {
  it('increases cosine similarity to the target and moves monotonically closer with strength', () => {
    const { head, x, region, target } = setup(7);
    const current = fullDecode(head, x);
    const c0 = cosine(current, target);
    let prevDist = dist(current, target);
    for (const s of [0.25, 0.5, 0.75, 1]) {
      const d = driveTowardTarget(head, region, current, target, s);
      const after = fullDecode(head, applied(x, d));
      const dd = dist(after, target);
      expect(dd).toBeLessThan(prevDist);
      prevDist = dd;
      expect(cosine(after, target)).toBeGreaterThan(c0);
    }
    // Strength 1 with a reachable target: lands on it up to the off-space noise.
    expect(cosine(fullDecode(head, applied(x, driveTowardTarget(head, region, current, target, 1))), target)).toBeGreaterThan(0.99);
  });

  it('touches only the region and matches the least-squares change u*·B', () => {
    const { head, x, region, target } = setup(8);
    const current = fullDecode(head, x);
    const d = driveTowardTarget(head, region, current, target, 0.6);
    expect(d.indices).toBe(region);
    const engine = new LinearChangeEngine([head], NVOX);
    engine.setBaseline(x);
    const got = engine.change('image', d).delta;
    // Residual of the achieved change against the wanted one is orthogonal to B's rows (normal equations).
    const wanted = Array.from(current, (c, j) => 0.6 * (target[j] - c));
    for (let k = 0; k < RANK; k++) {
      let s = 0;
      for (let j = 0; j < OUT; j++) s += (wanted[j] - got[j]) * head.B[k * OUT + j];
      expect(Math.abs(s)).toBeLessThan(1e-3 * norm(wanted));
    }
  });

  it('has the smallest norm among region-restricted changes with the same effect', () => {
    const { r, head, x, region, target } = setup(9);
    const current = fullDecode(head, x);
    const d = driveTowardTarget(head, region, current, target, 1);
    // Another region-restricted solution: add a random vector from the null space of A_Rᵀ
    // (n − A_R (A_RᵀA_R)⁻¹ A_Rᵀ n, computed by Gram–Schmidt against A_R's columns).
    const cols: Float64Array[] = [];
    for (let k = 0; k < RANK; k++) {
      const c = Float64Array.from(region, (v) => head.A[v * RANK + k]);
      for (const q of cols) {
        let p = 0;
        for (let i = 0; i < c.length; i++) p += c[i] * q[i];
        for (let i = 0; i < c.length; i++) c[i] -= p * q[i];
      }
      const nc = norm(c);
      cols.push(c.map((v) => v / nc));
    }
    for (let trial = 0; trial < 5; trial++) {
      const n = Float64Array.from(region, () => gauss(r));
      for (const q of cols) {
        let p = 0;
        for (let i = 0; i < n.length; i++) p += n[i] * q[i];
        for (let i = 0; i < n.length; i++) n[i] -= p * q[i];
      }
      const alt = { indices: region, values: Float32Array.from(d.values, (v, j) => v + n[j] * 0.3) };
      const effD = fullDecode(head, applied(x, d));
      const effAlt = fullDecode(head, applied(x, alt));
      expect(dist(effD, effAlt)).toBeLessThan(1e-4 * norm(effD)); // same change of the prediction
      expect(norm(alt.values)).toBeGreaterThan(norm(d.values)); // ours is smaller
    }
  });

  it('refuses nonlinear heads', () => {
    const r = rng(2);
    const head = makeHead('text', 20, 3, [2, 4], r, { outputNorm: 'l2-token' });
    expect(() => driveTowardTarget(head, Int32Array.of(1, 2, 3), new Float32Array(8), new Float32Array(8), 1)).toThrow(/linear head/);
  });
});

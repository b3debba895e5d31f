import { describe, expect, it } from 'vitest';
import { matrix } from '../../../src/core/tensor/matrix.ts';
import { rowCorrelationDistances, twoWayIdentification } from '../../../src/core/evaluate/identification.ts';
import { top1Retrieval } from '../../../src/core/evaluate/retrieval.ts';
import { brainCorrelation, brainCorrelations, brainSets } from '../../../src/core/evaluate/brainCorrelation.ts';
import { pearson } from '../../../src/core/evaluate/correlation.ts';
import { mulberry32 } from '../../../src/core/base/rng.ts';
import { array, cases } from './fixtures.ts';

function feat(name: string) {
  const { info, data } = array(name);
  return matrix(info.shape[0], info.shape[1], data as Float32Array);
}

describe('two-way identification = MindEye / MIRAGE two_way_identification', () => {
  for (const c of cases.identification) {
    it(`${c.gt}`, () => {
      const gt = feat(c.gt);
      const rec = feat(c.rec);
      const me = twoWayIdentification(gt, rec, 'mindeye');
      const mi = twoWayIdentification(gt, rec, 'mirage');
      expect(me.length).toBe(c.mindeye.length);
      me.forEach((v, i) => expect(v).toBeCloseTo(c.mindeye[i], 12));
      mi.forEach((v, i) => expect(v).toBeCloseTo(c.mirage[i], 12));
    });
  }
  it('perfect reconstructions score 1 (mindeye) and (N-2)/(N-1) under the MIRAGE off-by-one', () => {
    const gt = feat(cases.identification[0].gt);
    const n = gt.rows;
    expect(twoWayIdentification(gt, gt).every((v) => v === 1)).toBe(true);
    expect(twoWayIdentification(gt, gt, 'mirage').every((v) => Math.abs(v - (n - 2) / (n - 1)) < 1e-15)).toBe(true);
  });
  it('rejects mismatched shapes', () => {
    expect(() => twoWayIdentification(matrix(3, 4), matrix(3, 5))).toThrow(/3x4/);
  });
});

describe('correlation distance = scipy.spatial.distance.correlation', () => {
  for (const c of cases.corrdist) {
    it(c.gt, () => {
      const d = rowCorrelationDistances(feat(c.gt), feat(c.rec));
      d.forEach((v, i) => expect(Math.abs(v - c.distance[i])).toBeLessThan(1e-9));
    });
  }
});

describe('top-1 retrieval among candidates', () => {
  const rng = mulberry32(7);
  const n = 400;
  const d = 32;
  const img = matrix(n, d);
  for (let i = 0; i < img.data.length; i++) img.data[i] = rng() - 0.5;
  it('is perfect when brain embeddings equal image embeddings (up to scale)', () => {
    const brain = matrix(n, d, img.data.map((v) => v * 3));
    const r = top1Retrieval(brain, img, { seed: 1 });
    expect(r.forward).toBe(1);
    expect(r.backward).toBe(1);
    expect(r.candidates).toBe(300);
    expect(r.forwardDraws.length).toBe(30);
  });
  it('is near chance (1/300) for unrelated embeddings and reproducible from the seed', () => {
    const brain = matrix(n, d);
    for (let i = 0; i < brain.data.length; i++) brain.data[i] = rng() - 0.5;
    const a = top1Retrieval(brain, img, { seed: 3 });
    const b = top1Retrieval(brain, img, { seed: 3 });
    expect(a.forward).toBe(b.forward);
    expect(a.forward).toBeLessThan(0.02);
    expect(a.backward).toBeLessThan(0.02);
  });
  it('forward and backward are separate directions (they differ on noisy embeddings)', () => {
    const brain = matrix(n, d, img.data.map((v) => v + (rng() - 0.5) * 0.9));
    const r = top1Retrieval(brain, img, { seed: 5, candidates: 100, draws: 5 });
    expect(r.forward).toBeGreaterThan(0.05);
    expect(r.forward).toBeLessThan(1);
    expect(r.forward).not.toBe(r.backward);
  });
});

describe('brain correlation over ROI sets', () => {
  it('restricts the correlation to each set', () => {
    const nv = 10;
    const measured = Float32Array.from({ length: nv }, (_, i) => i);
    // early voxels 0..4 predicted perfectly, higher 5..9 reversed
    const predicted = Float32Array.from({ length: nv }, (_, i) => (i < 5 ? 2 * i + 1 : -i));
    const sets = brainSets([{ group: 'early', voxels: [0, 1, 2, 3, 4] }, { group: 'higher', voxels: [9, 8, 7, 6, 5] }, { group: 'other', voxels: [2] }], nv);
    const r = brainCorrelations(predicted, measured, sets);
    expect(r.early).toBeCloseTo(1, 12);
    expect(r.higher).toBeCloseTo(-1, 12);
    expect(r.all).toBeCloseTo(pearson(predicted, measured), 12);
    expect(brainCorrelation(predicted, measured, sets.early)).toBeCloseTo(1, 12);
  });
  it('rejects voxel indices outside the subject', () => {
    expect(() => brainSets([{ group: 'early', voxels: [12] }], 10)).toThrow(/outside/);
  });
});

describe('rankByCosine', () => {
  it('ranks candidates by cosine similarity, best first, carrying ids', async () => {
    const { rankByCosine } = await import('../../../src/core/evaluate/identify.ts');
    const values = Float32Array.from([1, 0, 0, 1, 1, 1, -1, 0]);
    const r = rankByCosine(Float32Array.from([2, 0.1]), values, [10, 11, 12, 13]);
    expect(r.map((x) => x.id)).toEqual([10, 12, 11, 13]);
    expect(r[0].score).toBeCloseTo(2 / Math.sqrt(4.01), 7);
    expect(r[3].score).toBeCloseTo(-2 / Math.sqrt(4.01), 7);
    expect(() => rankByCosine([1, 2], values, [1, 2, 3])).toThrow(/expected 3 rows/);
  });
});

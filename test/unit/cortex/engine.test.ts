import { describe, expect, it } from 'vitest';
import { LinearChangeEngine, cosine, cosineToEach, norm, rankOf } from '../../../src/core/cortex/engine.ts';
import { PerturbationStack, type Perturbation, type PerturbContext } from '../../../src/core/cortex/perturb.ts';
import { RoiSet } from '../../../src/core/cortex/roi.ts';
import { VoxelVertexMap } from '../../../src/core/cortex/vertexMap.ts';
import { fullDecode, gridMesh, makeHead, maxAbs, maxAbsDiff, randn, rng } from './helpers.ts';

const NVOX = 300;

function world(seed = 1) {
  const r = rng(seed);
  const heads = [
    makeHead('image', NVOX, 8, [32], r),
    makeHead('text', NVOX, 6, [5, 12], r, { outputNorm: 'l2-token' }),
    makeHead('retrieval', NVOX, 5, [3, 10], r, { inputNorm: 'l2', outputNorm: 'l2-token' }),
  ];
  const engine = new LinearChangeEngine(heads, NVOX);
  const rois = new RoiSet(NVOX, [
    { name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: Array.from({ length: 60 }, (_, i) => i) },
    { name: 'V2', color: '#00ff00', group: 'early', source: 'bundle', voxels: Array.from({ length: 80 }, (_, i) => 40 + i) },
    { name: 'higher', color: '#0000ff', group: 'higher', source: 'bundle', voxels: Array.from({ length: 100 }, (_, i) => 200 + i) },
  ]);
  const mesh = gridMesh(20, 20);
  const v2v = new Int32Array(NVOX * 2);
  for (let i = 0; i < NVOX; i++) {
    v2v[2 * i] = i % 2;
    v2v[2 * i + 1] = (Math.floor(i / 2) * 37) % mesh.vertexCount; // 150 distinct vertices per hemisphere
  }
  const map = new VoxelVertexMap(v2v, NVOX, [mesh, mesh]);
  const trials = [randn(NVOX, r), randn(NVOX, r), randn(NVOX, r)];
  const stimFeatures = randn(4 * 32, r); // 4 "stimuli" in image space
  const ctx: PerturbContext = {
    rois,
    engine,
    trialBetas: (t) => trials[t],
    surface: { map, folded: [mesh.positions, mesh.positions] },
    target: (_head, s) => stimFeatures.subarray(s * 32, (s + 1) * 32),
  };
  return { heads, engine, rois, ctx, trials, stimFeatures };
}

const KINDS: Record<string, Perturbation[]> = {
  gain: [{ kind: 'gain', roi: 'V1', k: 0 }],
  gain_amplify: [{ kind: 'gain', roi: 'higher', k: 2.5 }],
  add: [{ kind: 'add', roi: 'V2', value: 0.7 }],
  blob: [{ kind: 'blob', roi: 'V1', hemi: 0, vertex: 37 * 10, amplitude: 3, sigmaMm: 4 }],
  replace: [{ kind: 'replace', roi: 'higher', trial: 1 }],
  drive: [{ kind: 'drive', roi: 'V2', head: 'image', stimulus: 2, strength: 0.8 }],
  stacked: [
    { kind: 'gain', roi: 'V1', k: 0.3 },
    { kind: 'add', roi: 'V2', value: -0.4 },
    { kind: 'drive', roi: 'higher', head: 'image', stimulus: 1, strength: 1 },
    { kind: 'replace', roi: 'V2', trial: 2 },
  ],
};

describe('exact linear-change engine', () => {
  for (const [label, ps] of Object.entries(KINDS)) {
    it(`factored change equals decode(x+dx) − decode(x) for ${label}`, () => {
      const { heads, engine, ctx, trials } = world();
      const x0 = trials[0];
      const res = new PerturbationStack(ps).apply(x0, ctx);
      expect(res.total.indices.length).toBeGreaterThan(0);
      for (const h of heads) {
        const ref0 = fullDecode(h, x0);
        const ref1 = fullDecode(h, res.x);
        const want = ref1.map((v, j) => v - ref0[j]);
        const got = engine.change(h.spec.name, res.total).delta;
        expect(maxAbs(want)).toBeGreaterThan(1e-3); // the perturbation really changes every head
        // float32 tolerance relative to the prediction's scale
        expect(maxAbsDiff(got, want)).toBeLessThan(2e-6 * Math.max(1, maxAbs(ref0)));
        expect(maxAbsDiff(engine.baseline(h.spec.name).pred, ref0)).toBeLessThan(2e-6 * Math.max(1, maxAbs(ref0)));
      }
    });
  }

  it('silencing a region sets exactly its voxels to zero', () => {
    const { ctx, trials, rois } = world();
    const res = new PerturbationStack([{ kind: 'gain', roi: 'V1', k: 0 }]).apply(trials[0], ctx);
    for (const v of rois.get('V1').voxels) expect(res.x[v]).toBe(0);
    expect(res.x[150]).toBe(trials[0][150]);
    expect(Array.from(res.total.indices)).toEqual(Array.from(rois.get('V1').voxels));
  });

  it('blob is a Gaussian of folded-surface distance, zero on the other hemisphere', () => {
    const { ctx, trials, rois } = world();
    const centre = 37 * 10; // vertex of voxels 20 (hemi 0) and 21 (hemi 1)
    const res = new PerturbationStack([{ kind: 'blob', roi: 'V1', hemi: 0, vertex: centre, amplitude: 3, sigmaMm: 4 }]).apply(trials[0], ctx);
    const d = new Map<number, number>();
    res.total.indices.forEach((v, j) => d.set(v, res.total.values[j]));
    expect(d.get(20)).toBeCloseTo(3, 5);
    expect(d.get(21)).toBe(0);
    // voxel 22 sits at vertex 37*11 = 407 % 400 = 7: (7,0) vs centre (10,18)
    const dist2 = (7 - 10) ** 2 + (0 - 18) ** 2;
    expect(d.get(22)).toBeCloseTo(3 * Math.exp(-dist2 / 32), 5);
    expect(rois.get('V1').voxels.length).toBe(res.total.indices.length);
  });

  it('cosine ranks: identification rank of the closest stimulus is 1', () => {
    const scores = cosineToEach(Float32Array.from([1, 0]), Float32Array.from([0, 1, 1, 0.1, -1, 0]), 3);
    expect(rankOf(scores, 1)).toBe(1);
    expect(rankOf(scores, 2)).toBe(3);
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(norm([3, 4])).toBe(5);
  });

  it('rejects heads whose shapes do not fit the voxel count', () => {
    const r = rng(3);
    expect(() => new LinearChangeEngine([makeHead('image', 10, 2, [4], r)], 11)).toThrow(/A has 20 values/);
  });
});

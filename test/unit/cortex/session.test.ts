// CortexSession against a small simulated demo bundle built in memory: what the cortex worker does.
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { MemoryStore as MemoryBundle } from '../../../src/core/bundle/memoryStore.ts';
import { CortexSession } from '../../../src/core/cortex/session.ts';
import { predictHead } from '../../../src/core/decode/predict.ts';
import { averageTrialBetas } from '../../../src/core/decode/trials.ts';
import { startRegionProduct } from '../../../src/core/cortex/tfRegion.ts';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { buildDemo } from '../../../src/core/simulate/buildDemo.ts';
import { maxAbs, maxAbsDiff } from './helpers.ts';


let bundle: Bundle;
let session: CortexSession;

beforeAll(async () => {
  const mem = new MemoryBundle();
  await buildDemo(mem, {
    seed: 3,
    voxels: 150,
    trainImages: 60,
    galleryImages: 4,
    decodedSubjects: [1],
    tuningSubjects: [3],
    alphas: [1000],
    ranks: { image: 8, text: 8, blurry: 8, retrieval: 8, prompt: 8 },
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  bundle = await Bundle.open(mem);
  session = await CortexSession.open(bundle, 1);
}, 120_000);

describe('CortexSession on the simulated demo', () => {
  it('loads surfaces, the voxel map, bundle ROIs and heads', () => {
    expect(session.geometry.map((g) => g.hemi)).toEqual(['lh', 'rh']);
    expect(session.map).not.toBeNull();
    expect(session.rois.names).toEqual(expect.arrayContaining(['V1', 'V2', 'V3', 'hV4']));
    expect(session.engine.headNames).toContain('image');
    const info = session.roiInfo().find((r) => r.name === 'V1')!;
    expect(info.boundary[0].length + info.boundary[1].length).toBeGreaterThan(0);
  });

  it('silencing V1 changes the image head exactly as the full recomputation does', async () => {
    const m = bundle.manifest;
    const t = m.trials.findIndex((x) => x.subject === 1 && x.condition === 'vision' && x.stimulus === 0);
    await session.setTrials([t]);
    session.setStack([{ kind: 'gain', roi: 'V1', k: 0 }]);
    const u = await session.update();
    const x0 = await bundle.trialBetas(t);
    const x1 = x0.slice();
    for (const v of session.rois.get('V1').voxels) x1[v] = 0;
    const head = session.engine.head('image');
    const want = predictHead(head as never, x1, 1).map((v, j) => v - predictHead(head as never, x0, 1)[j]);
    const got = u.predictions.image!.map((v, j) => v - session.engine.baseline('image').pred[j]);
    expect(maxAbs(want)).toBeGreaterThan(0);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(predictHead(head as never, x0, 1))));
    expect(u.changedVoxels).toBe(session.rois.get('V1').voxels.length);
    expect(u.cosBefore).toHaveLength(18);
    expect(u.rankBefore).toBeGreaterThanOrEqual(1);
    expect(u.heads.find((h) => h.head === 'image')!.relNorm).toBeGreaterThan(0);
    // The perturbation overlay is −x0 on V1 and zero elsewhere.
    const pert = session.voxelOverlay({ kind: 'perturbation' })!;
    const v1 = session.rois.get('V1').voxels;
    expect(pert[v1[0]]).toBeCloseTo(-x0[v1[0]], 6);
    const vert = session.vertexOverlay({ kind: 'betas' })!;
    expect(vert.map((a) => a.length)).toEqual(session.geometry.map((g) => g.vertexCount));
  });

  it('drive toward a stimulus raises the image head cosine to it', async () => {
    const m = bundle.manifest;
    const t = m.trials.findIndex((x) => x.subject === 1 && x.condition === 'imagery' && x.stimulus === 2);
    await session.setTrials([t]);
    session.setStack([{ kind: 'drive', roi: 'V2', head: 'image', stimulus: 9, strength: 1 }]);
    const u = await session.update();
    const row = u.stimulusIds.indexOf(9);
    expect(u.cosAfter[row]).toBeGreaterThan(u.cosBefore[row]);
  });

  it('picks, paints user ROIs, exports and re-imports them; lesion profile covers both conditions', async () => {
    const lh = session.geometry[0];
    const centre = session.roiInfo().find((r) => r.name === 'V1')!.labelVertex[0];
    const p = session.pick(0, centre);
    expect(p.voxels.length).toBeGreaterThan(0);
    expect(p.rois).toContain('V1');
    const n = session.paintUserRoi('mine', '#00ffcc', session.brushVoxels(0, [centre], 8));
    expect(n).toBeGreaterThan(0);
    expect(lh.vertexCount).toBeGreaterThan(0);
    const file = session.exportRois();
    expect(file.rois.map((r) => r.name)).toEqual(['mine']);
    session.rois.remove('mine');
    expect(session.importRois(JSON.stringify(file))).toEqual(['mine']);
    const cells = await session.lesion(0);
    const v1 = cells.filter((c) => c.roi === 'V1' && c.head === 'image');
    expect(v1.map((c) => c.condition).sort()).toEqual(['imagery', 'vision']);
    expect(v1.every((c) => c.relNorm > 0 && c.trials > 0)).toBe(true);
  });

  it("headDeltas: the stack's raw change of every head for the mean of a stimulus's repeats (what a reconstruction decodes), on tfjs wasm", async () => {
    const wasmPaths = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
    const names = session.engine.headNames;
    const started = await startRegionProduct(names.map((n) => session.engine.head(n)), ['wasm'], { wasmPaths });
    session.setRegionProduct(started.product, started.info);
    try {
      const m = bundle.manifest;
      const one = m.trials.findIndex((x) => x.subject === 1 && x.condition === 'imagery' && x.stimulus === 3);
      await session.setTrials([one]);
      session.setStack([{ kind: 'gain', roi: 'V1', k: 0 }, { kind: 'add', roi: 'V2', value: 0.5 }]);
      const d = await session.headDeltas(3, 'imagery');
      expect(session.backend.name).toBe('wasm');
      const repeats = m.trials.flatMap((x, i) => (x.subject === 1 && x.condition === 'imagery' && x.stimulus === 3 ? [i] : []));
      expect(d.trials).toEqual(repeats);
      expect(repeats.length).toBeGreaterThan(1);
      const x0 = await averageTrialBetas(bundle, repeats);
      const x1 = x0.slice();
      for (const v of session.rois.get('V1').voxels) x1[v] = 0;
      for (const v of session.rois.get('V2').voxels) x1[v] += 0.5;
      for (const name of names) {
        const head = session.engine.head(name);
        const y0 = predictHead(head as never, x0, 1);
        const want = predictHead(head as never, x1, 1).map((v, j) => v - y0[j]);
        expect(maxAbs(want)).toBeGreaterThan(0);
        expect(maxAbsDiff(d.deltas[name]!, want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(y0)));
      }
      // The session's own trial stays the baseline: the update is still of that one trial.
      const u = await session.update();
      const y0 = predictHead(session.engine.head('image') as never, await bundle.trialBetas(one), 1);
      expect(maxAbsDiff(session.engine.baseline('image').pred, y0)).toBeLessThan(1e-5 * Math.max(1, maxAbs(y0)));
      expect(u.backend.name).toBe('wasm');
    } finally {
      started.product?.dispose();
      session.setRegionProduct(null, started.info);
    }
  });
});

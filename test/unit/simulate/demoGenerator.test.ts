// The demo pack's generator draws scenes of the simulated world, not blurred means (issue 13,
// docs/simulation.md §12): its stage C/B denoisers are exact for a mixture prior over the training
// scenes' latents, so as noise falls a sample snaps to one scene, and stage A adds that scene's
// detail. Asserted as what the design guarantees on a small world: conditioned on a training
// scene's own features, the chosen reconstruction IS that scene (near-perfect pixel correlation);
// for the held-out stimuli the reconstructions keep most of a scene's fine detail (high-frequency
// energy), where the Gaussian-prior generator kept about a fifth of it.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDemoModelPack, type DemoPackReport } from '../../../src/core/simulate/demoPack.ts';
import { barTemplateCorrelations, highFrequencyEnergy } from '../../../src/core/simulate/imageStats.ts';
import { loadModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { reconstruct, type DecodedHeads } from '../../../src/core/generate/pipeline.ts';
import { pixCorr } from '../../../src/core/evaluate/pixcorr.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';
import { buildWorld, HEAD_ORDER, HEAD_SIZES, type FeatureTable, type World } from '../../../src/core/simulate/experiment.ts';
import { IMAGE_SIZE } from '../../../src/core/simulate/dims.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';

const heads = (t: FeatureTable, i: number) =>
  Object.fromEntries(HEAD_ORDER.map((h) => [h, t[h].slice(i * HEAD_SIZES[h], (i + 1) * HEAD_SIZES[h])])) as unknown as DecodedHeads;
const img = (d: Uint8Array) => fromUint8(d, IMAGE_SIZE, IMAGE_SIZE, 3);

describe('demo generator: mixture prior over the world\'s scenes', () => {
  let world: World;
  let sessions: PackSessions;
  let report: DemoPackReport;
  beforeAll(async () => {
    world = await buildWorld(3, { trainImages: 160 });
    const store = new MemoryStore();
    ({ report } = await buildDemoModelPack(store, { seed: 3, encoders: world.graphs, training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures } }));
    sessions = new PackSessions(await loadModelPack(store));
  }, 300_000);

  it('conditioned on a training scene\'s features, the chosen reconstruction is that scene', async () => {
    for (const i of [0, 1, 2]) {
      const r = await reconstruct(sessions, heads(world.trainFeatures, i), { candidates: 2, seed: 5, captionMaxTokens: 0 });
      const best = r.candidates[r.best];
      expect(pixCorr(img(best.data), img(world.trainImages[i]))).toBeGreaterThan(0.9);
    }
  }, 120_000);

  it('reconstructions of the held-out stimuli keep a scene\'s fine detail (not blurred means)', async () => {
    let ratio = 0;
    const withImage = world.stimuli.filter((s) => world.stimulusImages[s.id]);
    for (const s of withImage) {
      const r = await reconstruct(sessions, heads(world.stimulusFeatures, s.id), { candidates: 2, seed: 5, captionMaxTokens: 0 });
      ratio += highFrequencyEnergy(r.candidates[r.best].data) / highFrequencyEnergy(world.stimulusImages[s.id]!) / withImage.length;
    }
    // Gaussian-prior generator (before issue 13): ~0.2; mixture: 0.6-1.1 (scripts/demo-generator.ts)
    expect(ratio).toBeGreaterThan(0.45);
  }, 300_000);

  it('the conditioning predicts where the scenes\' edges are and at which angle (stage C\'s orientation term)', () => {
    // Stage C weighs the scenes by their oriented energy on a 4x4 grid as read from the conditioning
    // (docs/simulation.md §12), because the coarse latents carry layout and colour, not a thin edge's
    // angle. That only helps if the readout predicts held-out scenes' oriented energy well.
    // (Whether a bar's reconstruction then has the bar's angle is measured on the default demo, §4.1:
    // on 160-300 training images it depends on the seed — 2/8 to 6/8 from true features.)
    expect(report.orientationR2).toBeGreaterThan(0.5);
    expect(report.orientationR2).toBeLessThanOrEqual(1);
  });
});

// Issue 13 item 3 (docs/simulation.md §4.2): a bar must come back as a bar on a plain background at
// roughly its angle. The world's training scenes hold no plain-background single objects, so the
// generator, which draws scenes of its corpus, could at best return a scene whose edges run at the
// bar's angle. With plain-background single-object scenes in the corpus and stage C weighing scenes
// also by their content (classes, background), the bars' reconstructions from their true features
// correlate with their own bar (luminance template) — and more than with the other three angles.
describe('demo generator: the simple bars', () => {
  const corr = async (plainScenes: number) => {
    const world = await buildWorld(3, { trainImages: 160 });
    const store = new MemoryStore();
    await buildDemoModelPack(store, { seed: 3, encoders: world.graphs, plainScenes, training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures } });
    const s = new PackSessions(await loadModelPack(store));
    try {
      const out: number[][] = [];
      for (const id of [0, 1, 2, 3]) {
        const r = await reconstruct(s, heads(world.stimulusFeatures, id), { candidates: 4, seed: 5, captionMaxTokens: 0 });
        out.push(barTemplateCorrelations(r.candidates[r.best].data));
      }
      return out;
    } finally {
      await s.dispose();
    }
  };

  it('with plain-background scenes in the corpus, bars come back as bars at their angle; without, they do not', async () => {
    const withPlain = await corr(112);
    const without = await corr(0);
    const own = (c: number[][]) => c.reduce((a, r, i) => a + r[i], 0) / c.length;
    const rightArgmax = (c: number[][]) => c.filter((r, i) => r.indexOf(Math.max(...r)) === i).length;
    // bar-shaped: the reconstruction's luminance correlates > 0.5 with its own bar's template
    const barShaped = (c: number[][]) => c.filter((r, i) => r[i] > 0.5).length;
    expect(rightArgmax(withPlain)).toBeGreaterThanOrEqual(3);
    expect(rightArgmax(withPlain)).toBeGreaterThan(rightArgmax(without));
    expect(barShaped(withPlain)).toBeGreaterThanOrEqual(2);
    expect(barShaped(withPlain)).toBeGreaterThan(barShaped(without));
    expect(own(withPlain)).toBeGreaterThan(own(without) + 0.3);
  }, 600_000);
});

// The demo model pack fitted to the simulated world: measured proof that conditioning works and that
// retrieval pooling helps. Ground truth = the simulation's own encoders applied to the stimuli.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDemoModelPack, type DemoPackReport } from '../../../src/core/simulate/demoPack.ts';
import { loadModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { reconstruct, type DecodedHeads } from '../../../src/core/generate/pipeline.ts';
import type { RgbImage } from '../../../src/core/base/image.ts';
import { buildEncoderGraphs, EncoderRunner, tokenize } from '../../../src/core/simulate/encoders.ts';
import { downsample, renderScene, toCHW } from '../../../src/core/simulate/render.ts';
import { testStimuli } from '../../../src/core/simulate/stimuli.ts';
import { IMAGE_SIZE, LOWLEVEL_SIZE } from '../../../src/core/simulate/dims.ts';
import { MemoryStore } from './memory.ts';

const SEED = 3;

function mse(a: RgbImage, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += (a.data[i] - b[i]) ** 2;
  return s / b.length;
}

describe('demo model pack (fitted to the simulated world)', () => {
  let sessions: PackSessions;
  let report: DemoPackReport;
  const truth: { id: number; image: Uint8Array; heads: DecodedHeads; caption: string }[] = [];

  beforeAll(async () => {
    const encoders = buildEncoderGraphs(SEED, null);
    const store = new MemoryStore();
    ({ report } = await buildDemoModelPack(store, { seed: SEED, encoders, trainImages: 160 }));
    sessions = new PackSessions(await loadModelPack(store));
    const runner = await EncoderRunner.create(encoders);
    for (const s of testStimuli(SEED).filter((t) => t.scene)) {
      const image = renderScene(s.scene!, IMAGE_SIZE);
      const chw = toCHW(image, IMAGE_SIZE);
      truth.push({
        id: s.id,
        image,
        caption: s.caption,
        heads: {
          image: Float32Array.from(await runner.image(chw, 1)),
          text: Float32Array.from(await runner.text(tokenize(s.caption), 1)),
          blurry: Float32Array.from(await runner.lowlevel(toCHW(downsample(image, IMAGE_SIZE, IMAGE_SIZE / LOWLEVEL_SIZE), LOWLEVEL_SIZE), 1)),
          retrieval: Float32Array.from(await runner.retrieval(chw, 1)),
          prompt: Float32Array.from(await runner.prompt(chw, 1)),
        },
      });
    }
    await runner.release();
  }, 120_000);

  it('fits: PCA explains most pixel variance, the prior and caption readouts beat chance on held-out images', () => {
    expect(report.explainedB).toBeGreaterThan(report.explainedC);
    expect(report.explainedC).toBeGreaterThan(0.4);
    expect(report.priorR2).toBeGreaterThan(0.3);
    expect(report.captionAccuracy.background).toBeGreaterThan(0.5); // chance 1/7
    // colour is weakly linear in the simulation's prompt features (measured ~0.3); the class needs the
    // prompt encoder's fitted classifier, absent here (buildEncoderGraphs(SEED, null)): asserted with
    // one in test/unit/simulate/promptClass.test.ts. Reported in the pack's provenance.
    expect(report.captionAccuracy.colour).toBeGreaterThanOrEqual(0);
  });

  it('candidates from a stimulus\'s true embeddings are closer to it than unconditional ones', async () => {
    let cond = 0;
    let uncond = 0;
    let wins = 0;
    for (const t of truth) {
      const base = { candidates: 4, seed: 7, useLowLevel: false, captionMaxTokens: 0 };
      const c = await reconstruct(sessions, t.heads, base);
      const zero = { ...t.heads, image: new Float32Array(t.heads.image.length), text: new Float32Array(t.heads.text.length) };
      const u = await reconstruct(sessions, zero, base);
      const dc = c.candidates.reduce((a, im) => a + mse(im, t.image), 0) / 4;
      const du = u.candidates.reduce((a, im) => a + mse(im, t.image), 0) / 4;
      cond += dc;
      uncond += du;
      if (dc < du) wins++;
    }
    expect(cond).toBeLessThan(0.8 * uncond);
    expect(wins).toBeGreaterThanOrEqual(Math.ceil(truth.length * 0.75));
  }, 120_000);

  it('retrieval pooling picks a candidate closer to the ground truth than a random one, on average', async () => {
    let chosen = 0;
    let average = 0;
    for (const t of truth) {
      const r = await reconstruct(sessions, t.heads, { candidates: 8, seed: 11, captionMaxTokens: 0, enhance: { size: 256, sharpness: 20, contrast: 1.5 } });
      const d = r.candidates.map((im) => mse(im, t.image));
      chosen += d[r.best];
      average += d.reduce((a, b) => a + b, 0) / d.length;
    }
    expect(chosen).toBeLessThan(average);
  }, 120_000);

  it('decodes captions in the template from true prompt features', async () => {
    const { decodeCaption } = await import('../../../src/core/generate/caption.ts');
    let hits = 0;
    for (const t of truth) {
      const { caption } = await decodeCaption(sessions, t.heads.prompt, 20);
      expect(caption).toMatch(/^(a [^aeiou]|an [aeiou])\w* \w+ on \w+$/); // the article follows the colour word
      const bg = caption.split(' ').at(-1) as string;
      if (t.caption.includes(bg)) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(truth.length / 2);
  });
});

// A small SIMULATED bundle + demo model pack for the browser test and the generate benchmark: the
// 18 simulated stimuli, their features from the demo encoders, one subject whose five heads decode
// those features from noisy betas (vision less noisy than imagery), MIRAGE normalisation statistics,
// and the demo pack fitted to the simulated world under "modelpack/". Builds in seconds, unlike the
// full demo; not a stand-in for the demo's decoding quality.
import type { Stimulus, Trial } from '../bundle/manifest.ts';
import { BundleWriter, type ShardSink } from '../bundle/writer.ts';
import { addHead } from '../decode/headBuilder.ts';
import { HEAD_SHAPES, IMAGE_SIZE, LOWLEVEL_SIZE } from './dims.ts';
import { buildEncoderGraphs, EncoderRunner, tokenize } from './encoders.ts';
import { downsample, renderScene, toCHW } from './render.ts';
import { testStimuli } from './stimuli.ts';
import { matrix } from '../tensor/matrix.ts';
import { buildDemoModelPack } from './demoPack.ts';
import { mulberry32Words } from '../base/rng.ts';

const VOX = 300;
const HEADS = ['image', 'text', 'blurry', 'retrieval', 'prompt'] as const;

function gaussian(seed: number): () => number {
  const words = mulberry32Words(seed);
  const u = () => (words() + 0.5) / 4294967296; // in (0, 1): safe for log
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** Writes the bundle (manifest.json + shards) and its model pack (modelpack/) through `sink`. */
export async function writeMiniReconBundle(sink: ShardSink, opts: { seed?: number; packTrainImages?: number } = {}): Promise<void> {
  const SEED = opts.seed ?? 5;
  const encoders = buildEncoderGraphs(SEED, null);
  const stimuli = testStimuli(SEED);
  const runner = await EncoderRunner.create(encoders);
  const feats: Record<(typeof HEADS)[number], Float32Array[]> = { image: [], text: [], blurry: [], retrieval: [], prompt: [] };
  const images: Uint8Array[] = [];
  for (const s of stimuli) {
    const scene = s.scene ?? s.variants![0];
    const img = renderScene(scene, IMAGE_SIZE);
    images.push(img);
    const chw = toCHW(img, IMAGE_SIZE);
    feats.image.push(Float32Array.from(await runner.image(chw, 1)));
    feats.text.push(Float32Array.from(await runner.text(tokenize(s.caption), 1)));
    feats.blurry.push(Float32Array.from(await runner.lowlevel(toCHW(downsample(img, IMAGE_SIZE, IMAGE_SIZE / LOWLEVEL_SIZE), LOWLEVEL_SIZE), 1)));
    feats.retrieval.push(Float32Array.from(await runner.retrieval(chw, 1)));
    feats.prompt.push(Float32Array.from(await runner.prompt(chw, 1)));
  }
  await runner.release();
  {
    const w = new BundleWriter(sink);
    const randn = gaussian(SEED);
    // betas of stimulus s = G[:, s]·√VOX-scaled code + noise; heads A = G/VOX map them back to one-hot.
    const G = new Float32Array(VOX * 18).map(() => randn());
    const trials: Trial[] = [];
    for (const s of stimuli) {
      for (const [condition, noise, run] of [['vision', 0.3, 'vis'], ['imagery', 0.8, 'img']] as const) {
        for (let r = 0; r < 2; r++) {
          const x = new Float32Array(VOX);
          for (let v = 0; v < VOX; v++) x[v] = G[v * 18 + s.id] + noise * randn();
          const ref = w.addTensor('subj01/betas.bin', x, 'float32', [VOX]);
          const letter = s.set === 'simple' ? 'A' : s.set === 'complex' ? 'B' : 'C';
          trials.push({ subject: 1, run: run === 'vis' ? `vis${letter}` : `img${letter}_${r + 1}`, stimulus: s.id, condition, repeat: r, betas: { shard: ref.shard, offset: ref.offset } });
        }
      }
    }
    const A = matrix(VOX, 18);
    for (let i = 0; i < A.data.length; i++) A.data[i] = G[i] / VOX;
    const heads = HEADS.map((h) => {
      const q = HEAD_SHAPES[h].reduce((a, b) => a * b, 1);
      const B = matrix(18, q);
      feats[h].forEach((f, s) => B.data.set(f, s * q));
      const mean = new Float32Array(q);
      const std = new Float32Array(q);
      for (const f of feats[h]) for (let j = 0; j < q; j++) mean[j] += f[j] / 18;
      for (const f of feats[h]) for (let j = 0; j < q; j++) std[j] += (f[j] - mean[j]) ** 2 / 18;
      for (let j = 0; j < q; j++) std[j] = Math.sqrt(std[j]) || 1;
      return addHead(w, 1, {
        name: h, role: `${h} (simulated test head)`, outputShape: [...HEAD_SHAPES[h]], A, B, intercept: new Float32Array(q),
        targetMean: mean, targetStd: std, penalty: 1, fidelity: { r2: 1, trials: 0, description: 'exact (test bundle)' },
      });
    });
    const stim: Stimulus[] = stimuli.map((s, i) => ({
      id: s.id, name: s.name, set: s.set, cue: s.cue, caption: s.caption,
      ...(s.scene ? { image: w.addTensor('stimuli/images.bin', images[i], 'uint8', [IMAGE_SIZE, IMAGE_SIZE, 3]) } : {}),
    }));
    await w.finish({
      name: 'reconstruction test bundle (simulated)',
      provenance: { kind: 'simulated', command: 'test/browser/reconstruct.spec.ts', createdAt: new Date(0).toISOString(), generator: { name: 'reconstruct.spec', version: '1' }, seed: SEED, sources: [] },
      imageSize: IMAGE_SIZE,
      subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: VOX, betaDtype: 'float32', surfaces: [], rois: [], heads }],
      stimuli: stim,
      trials,
      features: [],
    });
    await buildDemoModelPack(sink, { seed: SEED, encoders, trainImages: opts.packTrainImages ?? 120, prefix: 'modelpack/' });
  }
}


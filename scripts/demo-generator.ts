// Measures the demo pack's generator on a small seeded world (docs/simulation.md §12): every stimulus
// with an image is reconstructed from its TRUE features (no brain, MIRAGE's settings), and the chosen
// image is scored against the stimulus (PixCorr, SSIM at 425 px as `mirage eval`) and by its
// high-frequency energy relative to the stimulus's. Usage:
//   npx tsx scripts/demo-generator.ts [--seed 1] [--train 400] [--candidates 4]
import { parseArgs } from 'node:util';
import { buildWorld } from '../src/core/simulate/experiment.ts';
import { buildDemoModelPack } from '../src/core/simulate/demoPack.ts';
import { dominantOrientation, highFrequencyEnergy } from '../src/core/simulate/imageStats.ts';
import { loadModelPack } from '../src/core/generate/modelPack.ts';
import { PackSessions } from '../src/core/generate/sessions.ts';
import { reconstruct } from '../src/core/generate/pipeline.ts';
import { pixelMetrics } from '../src/core/evaluate/pixelSuite.ts';
import { fromUint8 } from '../src/core/evaluate/image.ts';
import { HEAD_ORDER, HEAD_SIZES } from '../src/core/simulate/experiment.ts';
import { IMAGE_SIZE } from '../src/core/simulate/dims.ts';
import { MemoryStore } from '../src/core/bundle/memoryStore.ts';

const { values } = parseArgs({ options: { seed: { type: 'string', default: '1' }, train: { type: 'string', default: '400' }, candidates: { type: 'string', default: '4' } } });
const seed = Number(values.seed);
const t0 = performance.now();
const world = await buildWorld(seed, { trainImages: Number(values.train) });
const store = new MemoryStore();
const { report } = await buildDemoModelPack(store, {
  seed, encoders: world.graphs, training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures },
});
console.log(`world + pack: ${((performance.now() - t0) / 1000).toFixed(1)} s; fit ${JSON.stringify(report)}`);
const sessions = new PackSessions(await loadModelPack(store));
const rows: { set: string; pixcorr: number; ssim: number; hf: number; ms: number }[] = [];
let barsRight = 0;
for (const s of world.stimuli) {
  const img = world.stimulusImages[s.id];
  if (!img) continue;
  const heads = Object.fromEntries(HEAD_ORDER.map((h) => [h, world.stimulusFeatures[h].slice(s.id * HEAD_SIZES[h], (s.id + 1) * HEAD_SIZES[h])])) as Record<(typeof HEAD_ORDER)[number], Float32Array>;
  const t = performance.now();
  const r = await reconstruct(sessions, heads, { candidates: Number(values.candidates), seed: 7, captionMaxTokens: 0 });
  const ms = performance.now() - t;
  const best = r.candidates[r.best];
  const m = pixelMetrics(fromUint8(img, IMAGE_SIZE, IMAGE_SIZE, 3), fromUint8(best.data, best.width, best.height, 3));
  const hf = highFrequencyEnergy(best.data) / highFrequencyEnergy(img);
  rows.push({ set: s.set, pixcorr: m.pixcorr, ssim: m.ssim, hf, ms });
  if (s.id < 4 && dominantOrientation(best.data) === dominantOrientation(img)) barsRight++;
}
for (const set of ['simple', 'complex']) {
  const sel = rows.filter((r) => r.set === set);
  const avg = (k: 'pixcorr' | 'ssim' | 'hf' | 'ms') => (sel.reduce((a, r) => a + r[k], 0) / sel.length).toFixed(3);
  console.log(`${set}: PixCorr ${avg('pixcorr')} SSIM ${avg('ssim')} HF ratio ${avg('hf')} (n ${sel.length}, ${avg('ms')} ms each)`);
}
console.log(`bars: dominant orientation of the chosen reconstruction right for ${barsRight}/4 (chance 1)`);
await sessions.dispose();

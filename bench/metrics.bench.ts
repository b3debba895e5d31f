// Pixel-metric suite over a MIRAGE-sized evaluation: 4 subjects x 18 stimuli x 2 conditions x 10
// repetitions (1440 reconstruction/ground-truth pairs at 512, like MIRAGE), two ways in the same run:
//  - reference: a plain loop calling pixelMetrics(gt, recon) per pair (resizes and filters the
//    ground truth every time);
//  - suite: prepareGroundTruth once per stimulus, pixelMetricsPrepared per reconstruction (what
//    `mirage eval` does).
// Both must give identical numbers; the result file records the ratio.
import os from 'node:os';
import type { BenchContext } from './lib.ts';
import type { FloatImage } from '../src/core/evaluate/image.ts';
import { pixelMetrics, pixelMetricsPrepared, prepareGroundTruth } from '../src/core/evaluate/pixelSuite.ts';
import { mulberry32 } from '../src/core/evaluate/random.ts';

function stimulus(id: number, size = 425): FloatImage {
  const d = new Float32Array(size * size * 3);
  const t = (id * Math.PI) / 18;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const u = (x - size / 2) * Math.cos(t) + (y - size / 2) * Math.sin(t);
      const v = Math.abs(u) < 20 ? 0 : 0.5 + 0.2 * Math.sin((x * (id + 1)) / 40) * Math.cos(y / 30);
      const i = (y * size + x) * 3;
      d[i] = v;
      d[i + 1] = v * 0.9;
      d[i + 2] = v * 0.8;
    }
  return { data: d, width: size, height: size, channels: 3 };
}

function reconstruction(gt: FloatImage, seed: number, size = 256): FloatImage {
  const rng = mulberry32(seed);
  const d = new Float32Array(size * size * 3);
  const s = gt.width / size;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const gi = (Math.floor(y * s) * gt.width + Math.floor(x * s)) * 3;
      for (let c = 0; c < 3; c++) d[(y * size + x) * 3 + c] = Math.min(1, Math.max(0, 0.6 * gt.data[gi + c] + 0.2 + (rng() - 0.5) * 0.4));
    }
  return { data: d, width: size, height: size, channels: 3 };
}

export default async function run(ctx: BenchContext): Promise<void> {
  const subjects = ctx.quick ? 1 : 4;
  const stimuli = 18;
  const conditions = 2;
  const reps = ctx.quick ? 2 : 10;
  const size = 512;
  const gts = Array.from({ length: stimuli }, (_, i) => stimulus(i));
  const pairs: { stim: number; seed: number }[] = [];
  for (let s = 0; s < subjects; s++)
    for (let c = 0; c < conditions; c++)
      for (let st = 0; st < stimuli; st++) for (let r = 0; r < reps; r++) pairs.push({ stim: st, seed: ((s * 2 + c) * 18 + st) * 10 + r + 1 });
  ctx.log(`metrics: ${pairs.length} pairs at ${size} (quick=${ctx.quick})`);

  // Reconstructions are made outside the timed loops (they stand for decoded PNGs).
  const recons = pairs.map((p) => reconstruction(gts[p.stim], p.seed));

  const loadBefore = os.loadavg();
  let t0 = performance.now();
  const ref = pairs.map((p, i) => pixelMetrics(gts[p.stim], recons[i], { size }));
  const referenceMs = performance.now() - t0;
  ctx.log(`reference loop: ${(referenceMs / 1000).toFixed(1)} s`);

  t0 = performance.now();
  const prepared = gts.map((g) => prepareGroundTruth(g, { size }));
  const suite = pairs.map((p, i) => pixelMetricsPrepared(prepared[p.stim], recons[i]));
  const suiteMs = performance.now() - t0;
  ctx.log(`suite: ${(suiteMs / 1000).toFixed(1)} s`);

  let maxDiff = 0;
  suite.forEach((m, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(m.ssim - ref[i].ssim), Math.abs(m.pixcorr - ref[i].pixcorr));
  });
  const file = await ctx.writeResult('metrics', {
    backend: 'plain JS (Node), single thread',
    workload: { subjects, stimuli, conditions, reps, pairs: pairs.length, size, gtSize: 425, reconSize: 256, antialias: true },
    referenceMs,
    suiteMs,
    speedup: referenceMs / suiteMs,
    perPairMs: { reference: referenceMs / pairs.length, suite: suiteMs / pairs.length },
    maxAbsDifference: maxDiff,
    meanSsim: suite.reduce((a, m) => a + m.ssim, 0) / suite.length,
    // other work on the machine slows both loops alike; the ratio is the comparable number
    loadAverage: { before: loadBefore, after: os.loadavg() },
  });
  ctx.log(`speedup ${(referenceMs / suiteMs).toFixed(2)}x, max |diff| ${maxDiff}; wrote ${file}`);
}

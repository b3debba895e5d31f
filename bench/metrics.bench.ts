// The full metric suite over a MIRAGE-sized evaluation with the demo packs (issue 5 §7): 4 decoded
// subjects x 18 stimuli x 2 conditions x 10 repetitions of the simulated demo bundle. Scored: every
// sample with a ground-truth image (the 6 conceptual stimuli have none, and no vision trials) —
// PixCorr, SSIM, two-way identification with the demo metric pack (its image encoder in the CLIP
// column) and brain correlation (early / higher / all) with the simulation's ground-truth encoding
// model. Timed two ways in the same run, on the same reconstructions:
//  - reference: a plain loop — per sample pixelMetrics(gt, recon), the encoder run on the ground
//    truths and reconstructions of each group one image at a time, identification, and the measured
//    betas averaged and the encoding model run per sample; nothing cached;
//  - suite: evaluateReconstructions (what `mirage eval` and the dashboard worker run): ground truths
//    prepared once per stimulus, batched features, ground-truth features cached per stimulus list,
//    measured betas cached per subject x condition x stimulus.
// Both must give the same numbers (maxAbsDifference). Evaluation size: the demo's image size (128 px,
// the dashboard's default; METRICS_BENCH_SIZE=512 for MIRAGE's size). Demo bundle: MIRAGE_BENCH_DEMO,
// else built once (seed 1, 200 training images) into the OS temp folder.
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { BenchContext } from './lib.ts';
import { writeAtomically } from '../src/node/atomic.ts';
import { FsShardSource } from '../src/node/fsSource.ts';
import { Bundle } from '../src/core/bundle/loader.ts';
import type { StimulusSet } from '../src/core/bundle/manifest.ts';
import { brainCorrelations, brainSets } from '../src/core/evaluate/brainCorrelation.ts';
import { conditionAveragedBetas, simulatedBrainScorer } from '../src/core/evaluate/brainModel.ts';
import { groundTruthImage } from '../src/core/evaluate/bundleEval.ts';
import { demoMetricPack } from '../src/core/evaluate/demoMetricPack.ts';
import { extractFeatures, featureMetric, type FeatureRunner } from '../src/core/evaluate/featurePacks.ts';
import { toRgb, toUint8, type FloatImage } from '../src/core/evaluate/image.ts';
import { pixelMetrics } from '../src/core/evaluate/pixelSuite.ts';
import { mulberry32 } from '../src/core/base/rng.ts';
import { evaluateReconstructions, type ReconstructionItem } from '../src/core/evaluate/runEval.ts';
import { rowKey, type EvalCondition } from '../src/core/evaluate/tables.ts';
import { createSession, runFloat } from '../src/core/onnx/runtime.ts';
import { predictBetasFromImage } from '../src/core/simulate/encoding.ts';
import { buildDemo } from '../src/core/simulate/buildDemo.ts';
import { loadGroundTruth } from '../src/core/simulate/groundTruth.ts';

/** A stand-in reconstruction: the ground truth blurred (more for imagery), tinted and noised, seeded. */
function reconstruction(gt: FloatImage, seed: number, imagery: boolean): FloatImage {
  const rng = mulberry32(seed);
  const { width: W, height: H } = gt;
  const rgb = toRgb(gt);
  const r = imagery ? 4 : 2;
  const d = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        let n = 0;
        for (let dy = -r; dy <= r; dy += 2)
          for (let dx = -r; dx <= r; dx += 2) {
            const yy = Math.min(H - 1, Math.max(0, y + dy));
            const xx = Math.min(W - 1, Math.max(0, x + dx));
            acc += rgb.data[(yy * W + xx) * 3 + c];
            n++;
          }
        d[(y * W + x) * 3 + c] = Math.min(1, Math.max(0, 0.8 * (acc / n) + 0.1 + (rng() - 0.5) * (imagery ? 0.5 : 0.3)));
      }
  return { data: d, width: W, height: H, channels: 3 };
}

async function demoBundle(ctx: BenchContext): Promise<string> {
  const given = process.env.MIRAGE_BENCH_DEMO;
  if (given) return given;
  const dir = join(os.tmpdir(), 'mirage-bench-demo-seed1-200');
  if (!existsSync(join(dir, 'manifest.json'))) {
    ctx.log(`building the demo bundle in ${dir} (once)`);
    await writeAtomically(dir, (sink) => buildDemo(sink, { seed: 1, trainImages: 200 }));
  }
  return dir;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const dir = await demoBundle(ctx);
  const source = new FsShardSource(dir);
  const bundle = await Bundle.open(source, { verify: 'sizes' });
  const m = bundle.manifest;
  const size = Number(process.env.METRICS_BENCH_SIZE ?? m.imageSize);
  const reps = ctx.quick ? 2 : 10;
  const subjects = m.subjects.filter((s) => s.role === 'decoded').map((s) => s.id).slice(0, ctx.quick ? 1 : 4);
  const stimById = new Map(m.stimuli.map((s) => [s.id, s]));
  const pack = await demoMetricPack(source, { command: 'bench/metrics.bench.ts' });
  const spec = pack.manifest.networks.clip!;
  const session = await createSession(pack.onnx.clip!);
  const encoder: FeatureRunner = (data, dims) => runFloat(session, { [spec.input.name]: { data, dims } }, spec.output.name);
  const encoderSize = spec.preprocess.resize;

  // Reconstructions are made outside the timed loops (they stand for decoded PNGs).
  const gts = new Map<number, FloatImage>();
  for (const s of m.stimuli) if (s.image) gts.set(s.id, await groundTruthImage(bundle, s.id));
  const items: (ReconstructionItem & { image: FloatImage })[] = [];
  for (const subject of subjects)
    for (const condition of ['vision', 'imagery'] as EvalCondition[])
      for (const s of m.stimuli)
        for (let rep = 0; rep < reps; rep++) {
          if (!s.image || !m.trials.some((t) => t.subject === subject && t.stimulus === s.id && t.condition === condition)) continue;
          const image = reconstruction(gts.get(s.id)!, subject * 100000 + s.id * 100 + rep * 2 + (condition === 'imagery' ? 1 : 0), condition === 'imagery');
          items.push({ method: 'bench', subject, condition, stimulus: s.id, repetition: rep, label: `${subject}/${condition}/${s.id}/${rep}`, image, load: async () => image });
        }
  const planned = subjects.length * 18 * 2 * reps;
  ctx.log(`metrics: ${items.length} scored samples of ${planned} planned (${subjects.length} subjects x 18 stimuli x 2 conditions x ${reps} reps; no ground truth for conceptual stimuli) at ${size} px`);

  // ---- reference: plain loop, nothing cached ----
  const loadBefore = os.loadavg();
  let t0 = performance.now();
  const ref = new Map<string, Record<string, number>>();
  const groups = new Map<string, typeof items>();
  for (const it of items) {
    const k = `${it.subject}|${it.condition}|${it.repetition}`;
    groups.set(k, [...(groups.get(k) ?? []), it]);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => a.stimulus - b.stimulus);
    for (const it of group) {
      const px = pixelMetrics(gts.get(it.stimulus)!, it.image, { size });
      const gt = await loadGroundTruth(bundle, it.subject);
      const subj = m.subjects.find((s) => s.id === it.subject)!;
      const rois = await Promise.all(subj.rois.map(async (r) => ({ group: r.group, voxels: Int32Array.from(await bundle.tensor(r.voxels)) })));
      const measured = await conditionAveragedBetas(bundle, it.subject, it.stimulus, it.condition);
      const u8 = toUint8(toRgb(it.image));
      const chw = new Float32Array(3 * encoderSize * encoderSize);
      for (let i = 0; i < encoderSize * encoderSize; i++) for (let c = 0; c < 3; c++) chw[c * encoderSize * encoderSize + i] = u8[i * 3 + c] / 255;
      const emb = (await encoder(chw, [1, 3, encoderSize, encoderSize])).data;
      const pred = predictBetasFromImage(gt.model, u8, Float32Array.from(emb), gt.semanticFromEmbedding, encoderSize);
      const b = brainCorrelations(pred, measured, brainSets(rois, subj.voxelCount));
      ref.set(rowKey(it), { pixcorr: px.pixcorr, ssim: px.ssim, brain_early: b.early, brain_higher: b.higher, brain_all: b.all });
    }
    const gtF = await extractFeatures(group.map((it) => gts.get(it.stimulus)!), spec, encoder, { batch: 1 });
    const recF = await extractFeatures(group.map((it) => it.image), spec, encoder, { batch: 1 });
    featureMetric('identification', gtF, recF).forEach((v, i) => (ref.get(rowKey(group[i]))!.clip = v));
  }
  const referenceMs = performance.now() - t0;
  ctx.log(`reference loop: ${(referenceMs / 1000).toFixed(1)} s`);

  // ---- suite: what mirage eval runs ----
  t0 = performance.now();
  const rows = await evaluateReconstructions(items, {
    size,
    antialias: true,
    groundTruth: async (id) => gts.get(id)!,
    stimulusSet: (id) => stimById.get(id)!.set as StimulusSet,
    networks: { clip: { spec, run: encoder } },
    brain: simulatedBrainScorer(bundle, encoder, encoderSize),
  });
  const suiteMs = performance.now() - t0;
  ctx.log(`suite: ${(suiteMs / 1000).toFixed(1)} s`);

  let maxDiff = 0;
  const metricKeys = ['pixcorr', 'ssim', 'clip', 'brain_early', 'brain_higher', 'brain_all'] as const;
  for (const r of rows) {
    const want = ref.get(rowKey(r))!;
    for (const k of metricKeys) maxDiff = Math.max(maxDiff, Math.abs((r.metrics[k] as number) - want[k]));
  }
  const mean = (k: (typeof metricKeys)[number], cond: EvalCondition) => {
    const v = rows.filter((r) => r.condition === cond).map((r) => r.metrics[k] as number);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  const file = await ctx.writeResult('metrics', {
    backend: 'plain JS (Node), single thread; demo image encoder via onnxruntime-web (wasm) in Node',
    workload: {
      bundle: `${m.name} (${m.subjects[0].voxelCount} voxels per subject)`,
      subjects,
      stimuli: 18,
      conditions: 2,
      reps,
      planned,
      scored: items.length,
      notScored: 'conceptual stimuli: no ground-truth image (and no vision trials)',
      size,
      metrics: [...metricKeys],
      packs: { clip: `${pack.manifest.name} (${spec.role})`, brain: "simulation's ground-truth encoding model (SIMULATED)" },
    },
    referenceMs,
    suiteMs,
    suiteVsReference: suiteMs / referenceMs,
    speedup: referenceMs / suiteMs,
    perSampleMs: { reference: referenceMs / items.length, suite: suiteMs / items.length },
    maxAbsDifference: maxDiff,
    means: Object.fromEntries(metricKeys.map((k) => [k, { vision: mean(k, 'vision'), imagery: mean(k, 'imagery') }])),
    // other work on the machine slows both loops alike; the ratio is the comparable number
    loadAverage: { before: loadBefore, after: os.loadavg() },
  });
  ctx.log(`suite/reference ${(suiteMs / referenceMs).toFixed(3)} (speedup ${(referenceMs / suiteMs).toFixed(2)}x), max |diff| ${maxDiff}; wrote ${file}`);
}

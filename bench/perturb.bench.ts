// Slider-to-update latency of the cortex perturbation path at NSD scale (15724 voxels; heads at
// MIRAGE's real output sizes, image 768, text 77x1280, blurry/low-level 91168, at bundle-like
// ranks), per backend, with the full recomputation decode(x+dx) on the same backend as the
// reference in the same run. One "update" = a new gain k on a V1-sized region (1500 voxels):
// build dx_R, then compute the head's change. Random weights: speed does not depend on values.
import { join } from 'node:path';
import type { HeadName } from '../src/core/bundle/manifest.ts';
import { LinearChangeEngine } from '../src/core/cortex/engine.ts';
import { PerturbationStack } from '../src/core/cortex/perturb.ts';
import { RoiSet } from '../src/core/cortex/roi.ts';
import { TfRegionHead } from '../src/core/cortex/tfRegion.ts';
import type { FactoredHead } from '../src/core/cortex/types.ts';
import { createBackend, type BackendName, type DecoderBackend } from '../src/core/decode/backend.ts';
import type { LoadedHead } from '../src/core/decode/predict.ts';
import { timeIt, type BenchContext } from './lib.ts';

const NVOX = 15724;
const REGION = 1500;
const HEADS: Array<{ name: HeadName; shape: number[]; rank: number }> = [
  { name: 'image', shape: [768], rank: 64 },
  { name: 'text', shape: [77, 1280], rank: 96 },
  { name: 'blurry', shape: [91168], rank: 96 },
];

function rand(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function makeHead(h: (typeof HEADS)[number], seed: number): LoadedHead {
  const out = h.shape.reduce((a, b) => a * b, 1);
  const spec = {
    name: h.name, role: 'benchmark (random weights)', outputShape: h.shape, rank: h.rank, inputNorm: 'none', outputNorm: 'none', penalty: 1,
    A: { shard: 'x', offset: 0, dtype: 'float16', shape: [NVOX, h.rank] }, B: { shard: 'x', offset: 0, dtype: 'float16', shape: [h.rank, out] },
    intercept: { shard: 'x', offset: 0, dtype: 'float32', shape: [out] }, fidelity: { r2: 1, trials: 0 },
  } as LoadedHead['spec'];
  return { spec, A: rand(NVOX * h.rank, seed, 0.05), B: rand(h.rank * out, seed + 1, 0.1), intercept: rand(out, seed + 2, 0.1) };
}

export default async function run(ctx: BenchContext): Promise<void> {
  const reps = ctx.quick ? 8 : 40;
  const x0 = rand(NVOX, 99, 1);
  const region = Int32Array.from({ length: REGION }, (_, i) => 3000 + i * 3);
  const rois = new RoiSet(NVOX, [{ name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: region }]);
  const heads = HEADS.map((h, i) => makeHead(h, 10 * i + 1));
  const engine = new LinearChangeEngine(heads as FactoredHead[], NVOX);
  engine.setBaseline(x0);
  for (const h of heads) engine.baseline(h.spec.name); // the baseline is computed once per trial, not per move
  const wasmPaths = join(process.cwd(), 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  let k = 0;
  const nextStack = () => new PerturbationStack([{ kind: 'gain', roi: 'V1', k: (k = (k + 0.137) % 2) }]);
  const rows: Array<Record<string, unknown>> = [];

  for (const backendName of ['js', 'cpu', 'wasm'] as BackendName[]) {
    let be: DecoderBackend;
    try {
      be = await createBackend([backendName], { wasmPaths });
    } catch (e) {
      ctx.log(`perturb: backend ${backendName} unavailable: ${(e as Error).message}`);
      rows.push({ backend: backendName, error: (e as Error).message });
      continue;
    }
    const tf = backendName === 'js' ? null : await import('@tensorflow/tfjs');
    for (const h of heads) {
      const name = h.spec.name;
      await be.setHead(h);
      const y0 = await be.predict(name, x0, 1);
      // Reference: full recomputation decode(x + dx) − decode(x) on the same backend.
      const full = await timeIt(async () => {
        const res = nextStack().apply(x0, { rois });
        const y1 = await be.predict(name, res.x, 1);
        let s = 0;
        for (let j = 0; j < y1.length; j++) s += y1[j] - y0[j];
        return s;
      }, reps, 2);
      // Factored: region rows of A, then B.
      let factored;
      let region0: TfRegionHead | null = null;
      if (!tf) {
        factored = await timeIt(() => {
          const res = nextStack().apply(x0, { rois });
          return engine.change(name, res.total).delta[0];
        }, reps, 2);
      } else {
        await tf.setBackend(backendName);
        region0 = TfRegionHead.create(tf, h, region);
        const rh = region0;
        factored = await timeIt(async () => {
          const res = nextStack().apply(x0, { rois });
          return (await rh.delta(res.total.values))[0];
        }, reps, 2);
      }
      region0?.dispose();
      const row = {
        backend: backendName,
        head: name,
        outputSize: h.B.length / h.spec.rank,
        rank: h.spec.rank,
        regionVoxels: REGION,
        factoredP50ms: factored.p50,
        factoredP95ms: factored.p95,
        fullP50ms: full.p50,
        fullP95ms: full.p95,
        speedupP50: full.p50 / factored.p50,
      };
      rows.push(row);
      ctx.log(`perturb ${backendName.padEnd(4)} ${name.padEnd(6)} factored p50 ${factored.p50.toFixed(2)} ms p95 ${factored.p95.toFixed(2)} ms | full p50 ${full.p50.toFixed(2)} ms p95 ${full.p95.toFixed(2)} ms | x${(full.p50 / factored.p50).toFixed(1)}`);
    }
    be.dispose();
  }
  await ctx.writeResult('perturb', {
    description:
      'slider-to-update latency of a region gain change (1500-voxel region of 15724) per head: factored (dx_R·A_R)·B vs full recomputation decode(x+dx) on the same backend; random weights at MIRAGE output sizes. Low-level image decode not included (no low-level decoder stage in this build). WebGPU not measured in Node.',
    voxels: NVOX,
    reps,
    rows,
  });
}

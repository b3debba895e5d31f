// The perturbation benchmark's measuring loop, shared by Node (bench/perturb.bench.ts) and the page
// run in headless Chromium (bench/browser/perturb.ts). Framework-free: no Node or DOM imports.
// NSD scale (15724 voxels) and MIRAGE's heads at their real output sizes and browser-bundle ranks
// (decodeBenchCore's MIRAGE_HEADS). One "update" = what a slider move costs in the cortex worker: a
// new gain k on a V1-sized region (1500 voxels) -> the stack applied -> the head's exact change
// read back (factored: (dx_R·A_R)·B through LinearChangeEngine.changeOn, the worker's code path),
// against the full recomputation decode(x + dx) − decode(x) on the same backend in the same run.
// The low-level row adds the blurry head's perturbed latents through the VDVAE-signature stand-in
// decoder (latents [1, 91168] + prior_noise [1, 1359872] -> px [1, 64, 64, 3]) with onnxruntime-web.
import type { HeadName } from '../src/core/bundle/manifest.ts';
import { LinearChangeEngine } from '../src/core/cortex/engine.ts';
import { PerturbationStack } from '../src/core/cortex/perturb.ts';
import { RoiSet } from '../src/core/cortex/roi.ts';
import { TfRegionProduct } from '../src/core/cortex/tfRegion.ts';
import { createBackend, type BackendName } from '../src/core/decode/backend.ts';
import type { LoadedHead } from '../src/core/decode/predict.ts';
import { buildStandInPack, REAL } from '../src/core/generate/standInPack.ts';
import { createSession, runFloat, type OrtSession } from '../src/core/onnx/runtime.ts';
import { maxRelativeError } from '../src/core/tensor/vector.ts';
import { MIRAGE_HEADS, NSD_SUBJ01_VOXELS, type BenchHead } from './decodeBenchCore.ts';
import { timeIt } from './timing.ts';

export const REGION_VOXELS = 1500;
export const PERTURB_HEADS: HeadName[] = ['image', 'text', 'blurry'];

export interface PerturbRow {
  env: 'node' | 'chromium';
  backend: BackendName;
  /** What the backend is (e.g. "SwiftShader (CPU emulation of WebGPU)"). */
  detail: string;
  /** 'image' | 'text' | 'lowlevel' (blurry head change + low-level decode). */
  target: string;
  outputs: number;
  rank: number;
  regionVoxels: number;
  voxels: number;
  reps: number;
  factoredP50ms: number;
  factoredP95ms: number;
  fullP50ms: number;
  fullP95ms: number;
  /** full p50 / factored p50 (>1: the factored path is faster). */
  speedupP50: number;
  /** max |factored − full| / max |full| of the head change on one update. */
  maxRelErr: number;
  /** For 'lowlevel': the decoder's execution provider and its share of the factored p50. */
  decoder?: { provider: string; p50ms: number; note?: string };
}

function rand(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function makeHead(h: BenchHead, voxels: number, seed: number): LoadedHead {
  const out = h.outputShape.reduce((a, b) => a * b, 1);
  const spec = {
    name: h.name, role: 'benchmark (random weights)', outputShape: h.outputShape, rank: h.rank, inputNorm: h.inputNorm ?? 'none', outputNorm: h.outputNorm ?? 'none', penalty: 1,
    A: { shard: 'x', offset: 0, dtype: 'float16', shape: [voxels, h.rank] }, B: { shard: 'x', offset: 0, dtype: 'float16', shape: [h.rank, out] },
    intercept: { shard: 'x', offset: 0, dtype: 'float32', shape: [out] }, fidelity: { r2: 1, trials: 0 },
  } as LoadedHead['spec'];
  return { spec, A: rand(voxels * h.rank, seed, 0.05), B: rand(h.rank * out, seed + 1, 0.1), intercept: rand(out, seed + 2, 0.1) };
}


/** The VDVAE-signature stand-in decoder (docs/model-packs.md) from the stand-in model pack. */
export async function standInLowLevelDecoder(): Promise<Uint8Array> {
  const files = new Map<string, Uint8Array>();
  await buildStandInPack({ write: async (p, b) => void files.set(p, b) });
  const bytes = files.get('models/vdvae_decoder.onnx');
  if (!bytes) throw new Error(`stand-in pack has no models/vdvae_decoder.onnx (has: ${[...files.keys()].join(', ')})`);
  return bytes;
}

export interface PerturbBenchOptions {
  env: 'node' | 'chromium';
  backends: BackendName[];
  /** onnxruntime-web execution provider per decode-side backend (e.g. webgpu -> 'webgpu', else 'wasm'). */
  decoderProvider: (backend: BackendName) => 'webgpu' | 'wasm';
  reps: number;
  /** Reps for one backend (e.g. fewer on SwiftShader, where one text-head update takes seconds). */
  repsFor?: (backend: BackendName) => number;
  wasmPaths?: string;
  voxels?: number;
  log: (m: string) => void;
}

export async function runPerturbBench(opts: PerturbBenchOptions): Promise<PerturbRow[]> {
  const voxels = opts.voxels ?? NSD_SUBJ01_VOXELS;
  const specs = MIRAGE_HEADS.filter((h) => PERTURB_HEADS.includes(h.name));
  const heads = specs.map((h, i) => makeHead(h, voxels, 10 * i + 1));
  const x0 = rand(voxels, 99, 1);
  const region = Int32Array.from({ length: REGION_VOXELS }, (_, i) => 3000 + i * 3);
  const rois = new RoiSet(voxels, [{ name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: region }]);
  const engine = new LinearChangeEngine(heads, voxels);
  engine.setBaseline(x0);
  for (const h of heads) engine.baseline(h.spec.name); // once per trial, not per slider move
  let k = 0;
  const nextStack = () => new PerturbationStack([{ kind: 'gain', roi: 'V1', k: (k = (k + 0.137) % 2) }]);
  const decoderBytes = await standInLowLevelDecoder();
  const priorNoise = rand(REAL.vdvaePriorNoise, 5, 1);
  const rows: PerturbRow[] = [];

  for (const backend of opts.backends) {
    let be;
    try {
      be = await createBackend([backend], { wasmPaths: opts.wasmPaths });
    } catch (e) {
      opts.log(`perturb ${opts.env}: backend ${backend} unavailable: ${(e as Error).message}`);
      continue;
    }
    const detail = be.detail ?? backend;
    const tf = backend === 'js' ? null : await import('@tensorflow/tfjs');
    const product = tf ? new TfRegionProduct(tf, backend, detail) : null;
    const reps = opts.repsFor?.(backend) ?? opts.reps;
    // The decoder on the preferred provider if it starts and runs, else wasm (as the worker does).
    let provider = opts.decoderProvider(backend);
    let providerNote: string | undefined;
    let decoder: OrtSession | null = null;
    const runDecoder = async (sess: OrtSession, latents: Float32Array) =>
      (await runFloat(sess, { latents: { data: latents, dims: [1, latents.length] }, prior_noise: { data: priorNoise, dims: [1, priorNoise.length] } }, 'px')).data[0];
    for (const p of provider === 'wasm' ? (['wasm'] as const) : ([provider, 'wasm'] as const)) {
      try {
        const sess = await createSession(decoderBytes, { executionProviders: [p] });
        await runDecoder(sess, new Float32Array(REAL.vdvaeLatents));
        decoder = sess;
        provider = p;
        break;
      } catch (e) {
        providerNote = `${p} failed: ${(e as Error).message.split('\n')[0]}`;
        opts.log(`perturb ${opts.env}: low-level decoder on ${p}: ${providerNote}`);
      }
    }
    const decode = (latents: Float32Array) => runDecoder(decoder!, latents);
    for (const h of heads) {
      const name = h.spec.name;
      await be.setHead(h);
      product?.setHead(h);
      const y0 = await be.predict(name, x0, 1);
      const full = async () => {
        const res = nextStack().apply(x0, { rois });
        const y1 = await be.predict(name, res.x, 1);
        const d = new Float32Array(y1.length);
        for (let j = 0; j < d.length; j++) d[j] = y1[j] - y0[j];
        return d;
      };
      const factored = async () => {
        const res = nextStack().apply(x0, { rois });
        return (await engine.changeOn(product, name, res.total)).delta;
      };
      // Accuracy on one update (same k for both).
      const k0 = k;
      const dFull = await full();
      k = k0;
      const dFact = await factored();
      const maxRelErr = maxRelativeError(dFact, dFull);
      const targets: Array<{ target: string; lowlevel: boolean }> = name === 'blurry' ? [{ target: 'lowlevel', lowlevel: true }] : [{ target: name, lowlevel: false }];
      for (const t of targets) {
        if (t.lowlevel && !decoder) continue;
        const pred0 = engine.baseline(name).pred;
        const withDecode = (f: () => Promise<Float32Array>, base: Float32Array) => async () => {
          const d = await f();
          const lat = new Float32Array(d.length);
          for (let j = 0; j < lat.length; j++) lat[j] = base[j] + d[j];
          return decode(lat);
        };
        const warm = reps < 5 ? 1 : 2;
        const fact = await timeIt(t.lowlevel ? withDecode(factored, pred0) : factored, reps, warm);
        const ref = await timeIt(t.lowlevel ? withDecode(full, y0) : full, reps, warm);
        let dec: PerturbRow['decoder'];
        if (t.lowlevel) {
          const lat = pred0.slice();
          dec = { provider, p50ms: (await timeIt(() => decode(lat), reps, 1)).p50, ...(providerNote ? { note: providerNote } : {}) };
        }
        const row: PerturbRow = {
          env: opts.env,
          backend,
          detail,
          target: t.target,
          outputs: h.B.length / h.spec.rank,
          rank: h.spec.rank,
          regionVoxels: REGION_VOXELS,
          voxels,
          reps,
          factoredP50ms: fact.p50,
          factoredP95ms: fact.p95,
          fullP50ms: ref.p50,
          fullP95ms: ref.p95,
          speedupP50: ref.p50 / fact.p50,
          maxRelErr,
          ...(dec ? { decoder: dec } : {}),
        };
        rows.push(row);
        opts.log(
          `perturb ${opts.env} ${backend.padEnd(6)} ${t.target.padEnd(8)} factored p50 ${fact.p50.toFixed(2)} p95 ${fact.p95.toFixed(2)} ms | full p50 ${ref.p50.toFixed(2)} p95 ${ref.p95.toFixed(2)} ms | x${row.speedupP50.toFixed(1)} | rel.err ${maxRelErr.toExponential(1)}${dec ? ` | decode ${dec.provider} ${dec.p50ms.toFixed(1)} ms` : ''}`,
        );
      }
    }
    product?.dispose();
    be.dispose();
    await decoder?.release().catch(() => undefined);
  }
  return rows;
}

// The decode benchmark's measuring loop, shared by Node (bench/decode.bench.ts) and the page run
// in headless Chromium (bench/browser/decode.ts). Framework-free: no Node or DOM imports.
// Synthetic heads at MIRAGE's real output sizes and NSD's voxel count; each backend is timed on
// the same inputs right after the plain-JS reference, and its output is checked against it.
import type { HeadName } from '../src/core/bundle/manifest.ts';
import { createBackend, type BackendName, type DecoderBackend } from '../src/core/decode/backend.ts';
import type { LoadedHead } from '../src/core/decode/predict.ts';
import { maxRelativeError } from '../src/core/tensor/vector.ts';

export const NSD_SUBJ01_VOXELS = 15724;

export interface BenchHead {
  name: HeadName;
  outputShape: number[];
  rank: number;
  inputNorm?: 'none' | 'l2';
  outputNorm?: 'none' | 'l2-token';
}

/** MIRAGE's five heads at their real output sizes (docs/background.md §3), at ranks a browser bundle would use. */
export const MIRAGE_HEADS: BenchHead[] = [
  { name: 'image', outputShape: [768], rank: 64 },
  { name: 'text', outputShape: [77, 1280], rank: 256 },
  { name: 'blurry', outputShape: [91168], rank: 256 },
  { name: 'retrieval', outputShape: [257, 1024], rank: 128, inputNorm: 'l2', outputNorm: 'l2-token' },
  { name: 'prompt', outputShape: [257, 1024], rank: 128 },
];

export interface BenchRow {
  env: 'node' | 'chromium';
  backend: BackendName;
  head: HeadName;
  voxels: number;
  rank: number;
  outputs: number;
  batch: number;
  /** Milliseconds to upload A, B, intercept (setHead). */
  uploadMs: number;
  p50Ms: number;
  meanMs: number;
  reps: number;
  trialsPerSec: number;
  /** Time of the plain-JS reference on the same head and batch divided by this backend's (>1: faster). */
  speedupVsJs: number | null;
  /** max |y − y_js| / max |y_js| on the timed input. */
  maxRelErrVsJs: number | null;
}

/** Fast deterministic fill (xorshift32) in [-scale, scale). */
function fill(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

export function syntheticHead(spec: BenchHead, voxels: number, seed: number): LoadedHead {
  const q = spec.outputShape.reduce((a, b) => a * b, 1);
  const ref = { shard: 'synthetic', offset: 0, dtype: 'float16' as const, shape: [] };
  return {
    spec: {
      name: spec.name,
      role: 'synthetic benchmark head',
      outputShape: spec.outputShape,
      rank: spec.rank,
      A: ref,
      B: ref,
      intercept: ref,
      inputNorm: spec.inputNorm ?? 'none',
      outputNorm: spec.outputNorm ?? 'none',
      penalty: 1e5,
      fidelity: { r2: 1, trials: 0 },
    },
    A: fill(voxels * spec.rank, seed, 1 / Math.sqrt(voxels)),
    B: fill(spec.rank * q, seed + 1, 1 / Math.sqrt(spec.rank)),
    intercept: fill(q, seed + 2, 0.1),
  };
}

async function time(fn: () => Promise<unknown>, reps: number): Promise<{ p50: number; mean: number; last: unknown }> {
  let last = await fn(); // warm-up (shader compilation, wasm pages)
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = await fn();
    ms.push(performance.now() - t0);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length / 2)], mean: ms.reduce((a, b) => a + b, 0) / ms.length, last };
}

export interface BenchOptions {
  env: BenchRow['env'];
  /** Backends to time besides the plain-JS reference (which always runs first). */
  backends: Exclude<BackendName, 'js'>[];
  voxels: number;
  heads: BenchHead[];
  batches: number[];
  reps: number;
  wasmPaths?: string;
  log: (msg: string) => void;
}

export async function runDecodeBench(o: BenchOptions): Promise<{ rows: BenchRow[]; failed: Record<string, string> }> {
  const rows: BenchRow[] = [];
  const failed: Record<string, string> = {};
  const backends: DecoderBackend[] = [];
  for (const name of o.backends) {
    try {
      backends.push(await createBackend([name], { wasmPaths: o.wasmPaths }));
    } catch (e) {
      failed[name] = e instanceof Error ? e.message : String(e);
      o.log(`${o.env}: backend ${name} unavailable: ${failed[name]}`);
    }
  }
  const js = await createBackend(['js']);
  for (const [hi, spec] of o.heads.entries()) {
    const head = syntheticHead(spec, o.voxels, 1000 * (hi + 1));
    const outputs = head.B.length / spec.rank;
    for (const batch of o.batches) {
      const betas = fill(batch * o.voxels, 77 + batch, 1);
      let ref: Float32Array | null = null;
      let jsMs = 0;
      for (const be of [js, ...backends]) {
        const t0 = performance.now();
        await be.setHead(head);
        const uploadMs = performance.now() - t0;
        const t = await time(() => be.predict(spec.name, betas, batch), o.reps);
        const out = t.last as Float32Array;
        if (be.name === 'js') {
          ref = out;
          jsMs = t.p50;
        }
        const row: BenchRow = {
          env: o.env,
          backend: be.name,
          head: spec.name,
          voxels: o.voxels,
          rank: spec.rank,
          outputs,
          batch,
          uploadMs,
          p50Ms: t.p50,
          meanMs: t.mean,
          reps: o.reps,
          trialsPerSec: (1000 * batch) / t.p50,
          speedupVsJs: jsMs / t.p50,
          maxRelErrVsJs: ref ? maxRelativeError(out, ref) : null,
        };
        rows.push(row);
        o.log(
          `${o.env} ${be.name.padEnd(6)} ${spec.name.padEnd(9)} batch ${String(batch).padStart(2)}: ${t.p50.toFixed(1)} ms ` +
            `(${row.trialsPerSec.toFixed(1)} trials/s, x${row.speedupVsJs!.toFixed(2)} vs js, err ${row.maxRelErrVsJs!.toExponential(1)})`,
        );
        be.dispose(); // drop this head's tensors before the next backend uploads its copy
      }
    }
  }
  return { rows, failed };
}

// Stage packs in Chromium (issue 14, "Measure"): load time (first from the server, then from Cache
// Storage), peak memory and per-call time on wasm and on WebGPU of a VDVAE and a CLIP stage pack,
// through the page's own loading path (bench/browser/packs.ts). The packs are built here by the
// real packers from random checkpoints with the official key names and shapes (speed does not
// depend on the values): VDVAE ImageNet-64 at its real size (66.8 M decoder parameters, 267 MB),
// CLIP ViT-L/14 at its real width and resolution with fewer layers (the per-layer cost times 24
// projects the full tower; `MIRAGE_BENCH_CLIP_LAYERS=24` builds the whole 1.2 GB tower). Built once
// into bench/tmp/packs/ (git-ignored). WebGPU here is SwiftShader, a CPU emulation, unless Chromium
// finds a GPU: its times say that it runs, not how fast a GPU is. Results: bench/results/packs-browser.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../src/core/base/rng.ts';
import type { Checkpoint } from '../src/core/generate/packers/checkpoint.ts';
import { CLIP_VIT_L14, clipVisionShapes, type ClipVisionConfig } from '../src/core/generate/packers/clip.ts';
import { packClip } from '../src/core/generate/packers/clipPack.ts';
import { VDVAE_IMAGENET64, vdvaeDecoderShapes, vdvaeEncoderShapes } from '../src/core/generate/packers/vdvae.ts';
import { packVdvae } from '../src/core/generate/packers/vdvaePack.ts';
import { writeAtomically } from '../src/node/atomic.ts';
import { CHROMIUM, devServerWasmPaths, REPO_DIR, runBenchPage } from './lib-browser.ts';
import type { BenchContext } from './lib.ts';

const PACKS = join(REPO_DIR, 'bench/tmp/packs');

/** Random values (uniform ±0.02, seeded) under the given tensor names and shapes. */
function randomCheckpoint(label: string, shapes: Map<string, number[]>): Checkpoint {
  const names = [...shapes.keys()];
  return {
    label,
    files: [`${label} (random, bench)`],
    tensors: new Map(names.map((name) => [name, { name, shape: shapes.get(name)!, dtype: 'F32', file: label }])),
    async read(name) {
      const u = mulberry32(names.indexOf(name) + 1);
      return Float32Array.from({ length: shapes.get(name)!.reduce((a, b) => a * b, 1) }, () => (u() - 0.5) * 0.04);
    },
  };
}

interface PageResult {
  packName: string;
  files: number;
  loads: { ms: number; bytes: number; from: string }[];
  runs: Record<string, { sessionMs: number; callsMs: number[]; error?: string }>;
  memoryBytes: Record<string, number | null>;
  adapter: unknown;
  shaderF16: boolean;
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const clipLayers = Number(process.env.MIRAGE_BENCH_CLIP_LAYERS ?? (ctx.quick ? 1 : 4));
  const clip: ClipVisionConfig = { ...CLIP_VIT_L14, layers: clipLayers };
  const packs = [
    { dir: 'vdvae', stage: 'lowLevelDecoder', what: 'VDVAE ImageNet-64 decoder, real size', build: (out: string) => writeAtomically(out, (sink) => packVdvae(randomCheckpoint('vdvae-imagenet64-random', new Map([...vdvaeDecoderShapes(VDVAE_IMAGENET64), ...vdvaeEncoderShapes(VDVAE_IMAGENET64)])), sink, { createdAt: 'bench' })) },
    {
      dir: `clip-l14-${clipLayers}layers`,
      stage: 'imageEncoder',
      what: `CLIP ViT-L/14 vision tower, real width and resolution, ${clipLayers} of 24 layers`,
      build: (out: string) => writeAtomically(out, (sink) => packClip(randomCheckpoint('clip-l14-random', clipVisionShapes(clip)), sink, { config: clip, precision: 'both', createdAt: 'bench' })),
    },
  ];
  const only = process.env.MIRAGE_BENCH_PACKS?.split(',');
  const chosen = packs.filter((x) => !only || only.includes(x.dir));
  // Rows of packs and providers not run this time stay (MIRAGE_BENCH_PACKS / _PROVIDERS run a part).
  const providers = (process.env.MIRAGE_BENCH_PROVIDERS ?? 'wasm,webgpu').split(',');
  const file = join(REPO_DIR, 'bench/results/packs-browser.json');
  const rerun = (r: { pack?: string; executionProvider?: string }) => chosen.some((c) => c.dir === r.pack) && providers.includes(r.executionProvider ?? '');
  const kept = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { rows?: { pack?: string; executionProvider?: string }[] }).rows ?? []).filter((r) => !rerun(r)) : [];
  const rows: Record<string, unknown>[] = [...kept];
  // Written after every pack, so a long WebGPU (SwiftShader) run keeps the numbers measured before it.
  const save = async () =>
    ctx.writeResult('packs-browser', {
      description:
        'stage packs loaded in headless Chromium through the page path (HttpShardSource + Cache Storage + resumable chunks, size and sha256 checked, ONNX external data): load time from the dev server and then from Cache Storage, session creation and per-call time (batch 1, inputs in (0,1), outputs read back) on wasm (one thread unless cross-origin isolated) and WebGPU, memory from performance.measureUserAgentSpecificMemory (page + workers: JS heap, ArrayBuffers, wasm memory) after each step. WebGPU is SwiftShader (CPU emulation) on a machine without a GPU: correctness only, not GPU speed. Random weights with the official names and shapes.',
      chromium: CHROMIUM,
      loadAverage: (await import('node:os')).loadavg(),
      rows,
    });
  for (const p of chosen) {
    const out = join(PACKS, p.dir);
    if (!existsSync(join(out, 'modelpack.json'))) {
      ctx.log(`building ${p.what} into ${out}`);
      await p.build(out);
    }
    // One browser per execution provider: the wasm numbers are saved before a long SwiftShader run.
    for (const ep of providers) {
      try {
        const r = await runBenchPage<PageResult>(
          'packs',
          { pack: p.dir, stage: p.stage, calls: process.env.MIRAGE_BENCH_CALLS ?? String(ctx.quick ? 1 : 3), providers: ep, wasm: devServerWasmPaths(), ort: `/@fs${join(REPO_DIR, 'node_modules/onnxruntime-web/dist')}/` },
          { timeoutMs: 60 * 60_000, log: ctx.log },
        );
        const mem = Object.values(r.result.memoryBytes).filter((x): x is number => x !== null);
        rows.push({ pack: p.dir, stage: p.stage, what: p.what, executionProvider: ep, ...r.result, peakMemoryBytes: mem.length ? Math.max(...mem) : null, browserVersion: r.browserVersion });
      } catch (e) {
        rows.push({ pack: p.dir, stage: p.stage, what: p.what, executionProvider: ep, error: e instanceof Error ? e.message : String(e) });
        ctx.log(`chromium run of ${p.dir} on ${ep} failed: ${String(e)}`);
      }
      await save();
    }
  }
  await save();
}

// Decode throughput at NSD scale: 15724 voxels, MIRAGE's five heads at their real output sizes
// (768, 77x1280, 91168, 257x1024 twice) with synthetic reduced-rank weights (ranks 64–256), per
// backend: Node (plain JS, tfjs cpu, tfjs wasm) and headless Chromium (tfjs webgpu, tfjs wasm,
// plain JS). Every backend is timed right after the plain-JS reference on the same head and batch
// in the same process, so the ratios are meaningful even on a busy machine; absolute times are not.
// Without a GPU, Chromium's WebGPU is SwiftShader (CPU emulation): recorded in the result.
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { MIRAGE_HEADS, NSD_SUBJ01_VOXELS, runDecodeBench, type BenchRow } from './decodeBenchCore.ts';
import type { BenchContext } from './lib.ts';
import { devServerWasmPaths, runBenchPage, CHROMIUM, CHROMIUM_ARGS } from './lib-browser.ts';

function nodeWasmPaths(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

interface PageResult {
  rows: BenchRow[];
  failed: Record<string, string>;
  adapter: Record<string, unknown> | null;
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const voxels = ctx.quick ? 4000 : NSD_SUBJ01_VOXELS;
  const heads = ctx.quick ? MIRAGE_HEADS.filter((h) => h.name === 'image' || h.name === 'blurry') : MIRAGE_HEADS;
  // Node: a single trial and a batch of 8 (a stimulus's vision repeats). Chromium: single trials
  // only — SwiftShader's WebGPU runs the larger products at tens of MFLOP/s and would take an hour.
  const batches = ctx.quick ? [8] : [1, 8];
  const browserBatches = ctx.quick ? [8] : [1];
  const reps = ctx.quick ? 1 : 2;

  const loadBefore = os.loadavg();
  ctx.log(`decode bench: ${voxels} voxels, heads ${heads.map((h) => `${h.name}[${h.outputShape.join('x')}] r${h.rank}`).join(', ')}, batches ${batches}`);
  const node = await runDecodeBench({ env: 'node', backends: ['cpu', 'wasm'], voxels, heads, batches, reps, wasmPaths: nodeWasmPaths(), log: ctx.log });

  // Keep the Node numbers even if the browser part fails or is interrupted.
  await ctx.writeResult('decode', { partial: 'node only (chromium run pending)', voxels, heads, batches, reps, rows: node.rows });

  let browser: (PageResult & { browserVersion: string }) | { error: string };
  try {
    const r = await runBenchPage<PageResult>(
      'decode',
      { voxels: String(voxels), heads: heads.map((h) => h.name).join(','), batches: browserBatches.join(','), reps: String(reps), wasm: devServerWasmPaths() },
      { log: ctx.log, timeoutMs: 30 * 60_000 },
    );
    browser = { ...r.result, browserVersion: r.browserVersion };
  } catch (e) {
    browser = { error: e instanceof Error ? e.message : String(e) };
    ctx.log(`chromium run failed: ${browser.error}`);
  }
  const rows = [...node.rows, ...('rows' in browser ? browser.rows : [])];
  const adapter = 'adapter' in browser ? browser.adapter : null;
  const swiftshader = Boolean(adapter && (adapter as { software?: boolean }).software);

  // Per environment and backend: all heads of one batch size, summed (one full decode of a trial batch).
  const totals: Record<string, { ms: number; speedupVsJs: number }> = {};
  for (const env of ['node', 'chromium'] as const) {
    for (const batch of env === 'node' ? batches : browserBatches) {
      const jsMs = rows.filter((r) => r.env === env && r.backend === 'js' && r.batch === batch).reduce((a, r) => a + r.p50Ms, 0);
      for (const be of [...new Set(rows.filter((r) => r.env === env).map((r) => r.backend))]) {
        const ms = rows.filter((r) => r.env === env && r.backend === be && r.batch === batch).reduce((a, r) => a + r.p50Ms, 0);
        if (ms > 0) totals[`${env}/${be}/batch${batch}`] = { ms, speedupVsJs: jsMs / ms };
      }
    }
  }
  const file = await ctx.writeResult('decode', {
    description:
      'p50 milliseconds per predict call ((x·A)·B + intercept) per head and batch; speedupVsJs = plain-JS reference time / backend time on the same head, batch and process',
    // Other processes on the machine skew absolute times; ratios are measured back to back.
    loadAverage: { before: loadBefore, after: os.loadavg(), cpus: os.cpus().length },
    voxels,
    heads,
    batches: { node: batches, chromium: browserBatches },
    reps,
    reference: 'plain JS (src/core/decode/predict.ts predictHead), measured in the same process before each backend',
    backends: {
      node: { measured: ['js', 'cpu', 'wasm'], failed: node.failed },
      chromium:
        'rows' in browser
          ? {
              measured: ['js', 'webgpu', 'wasm'].filter((b) => !(b in browser.failed)),
              failed: browser.failed,
              browserVersion: browser.browserVersion,
              userAgent: browser.userAgent,
              crossOriginIsolated: browser.crossOriginIsolated,
              hardwareConcurrency: browser.hardwareConcurrency,
              executable: CHROMIUM,
              args: CHROMIUM_ARGS,
              webgpuAdapter: adapter,
              webgpuIs: swiftshader ? 'SwiftShader: CPU emulation of WebGPU (correctness only; its speed says nothing about a GPU)' : 'hardware adapter (see webgpuAdapter)',
            }
          : browser,
    },
    totals,
    rows,
  });
  ctx.log(`wrote ${file}`);
}

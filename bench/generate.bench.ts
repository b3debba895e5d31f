// Reconstruction speed, per stage per reconstruction:
//  1. Node, onnxruntime-web wasm: the stand-in pack at the REAL shapes (stage C 16x24x24, stage B
//     4x256x256, 1024² pixels, CLIP 257x1024, GiT 30522 vocab) with MIRAGE's step counts — what the
//     pipeline's own work (sampler, enhancement, resizes, retrieval) costs around real-sized tensors;
//     and the demo pack (the simulated world's fitted graphs).
//  2. Headless Chromium, the real app page: the demo pack on the WebGPU execution provider and on
//     wasm, in the generate worker, with the main thread's longest task during each reconstruction
//     (PerformanceObserver 'longtask', wall time) — the page must stay usable (< 50 ms is the goal);
//     and a Chrome DevTools trace of each reconstruction (CDP Tracing): every task of the page's main
//     thread with its wall time AND the thread's CPU time (on a loaded 2-core machine a task's wall
//     time includes the time the OS gave the core to the worker, SwiftShader or other processes), the
//     longest task's contents, and the load average. The page is polled from Node (page.evaluate
//     every 500 ms), not with waitForFunction, whose in-page rAF polling shows up as long tasks.
//  Run: `node bin/mirage.js bench generate` (MIRAGE_BENCH_PARTS=chromium for the browser part only).
// WebGPU in headless Chromium here is SwiftShader (a CPU emulation): ratios, never GPU speed claims.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { build as viteBuild, createServer, preview as vitePreview } from 'vite';
import { writeAtomically } from '../src/node/atomic.ts';
import { FsShardSource } from '../src/node/fsSource.ts';
import { loadModelPack } from '../src/core/generate/modelPack.ts';
import { PackSessions } from '../src/core/generate/sessions.ts';
import { buildStandInPack, REAL_HEAD_SHAPES } from '../src/core/generate/standInPack.ts';
import { writeMiniReconBundle } from '../src/core/simulate/miniBundle.ts';
import { GenerateService } from '../src/core/generate/service.ts';
import { MIRAGE_DEFAULTS, reconstruct, type DecodedHeads } from '../src/core/generate/pipeline.ts';
import { NoiseRng } from '../src/core/base/rng.ts';
import { watchMainThread } from '../scripts/mainThreadWatch.ts';
import { CHROMIUM, CHROMIUM_ARGS, REPO_DIR } from './lib-browser.ts';
import { RESULTS_DIR, type BenchContext } from './lib.ts';
import { summarizeMainThread, traced } from './trace.ts';

const RECON_DIR = '.cache/test-bundles/recon-demo';

/** The code that writes the mini reconstruction bundle and its demo pack (a change rebuilds it). */
const RECON_SOURCES = ['src/core/generate', 'src/core/simulate', 'src/core/onnx', 'src/core/bundle', 'src/core/decode'];

async function reconStamp(): Promise<string> {
  const h = createHash('sha256');
  for (const dir of RECON_SOURCES) {
    for (const f of readdirSync(join(REPO_DIR, dir)).filter((x) => x.endsWith('.ts')).sort()) {
      h.update(f);
      h.update(await readFile(join(REPO_DIR, dir, f)));
    }
  }
  return h.digest('hex');
}

/**
 * The mini reconstruction bundle the Chromium part serves: rebuilt when missing or when the code
 * that writes it changed (a cached pack from older code once hid that two stages fell back to wasm).
 */
export async function ensureReconBundle(ctx: BenchContext): Promise<void> {
  const stamp = await reconStamp();
  const stampFile = join(REPO_DIR, RECON_DIR, 'BENCH_STAMP');
  const current = existsSync(join(REPO_DIR, RECON_DIR, 'modelpack', 'modelpack.json')) && (await readFile(stampFile, 'utf8').catch(() => '')) === stamp;
  if (current) return;
  ctx.log('building the mini reconstruction bundle + demo pack (missing, or written by older code)');
  await writeAtomically(join(REPO_DIR, RECON_DIR), async (sink) => {
    await writeMiniReconBundle(sink);
    await sink.write('BENCH_STAMP', new TextEncoder().encode(stamp));
  });
}

class MemStore {
  readonly label = 'memory';
  readonly files = new Map<string, Uint8Array>();
  async write(p: string, b: Uint8Array) {
    this.files.set(p, b);
  }
  async read(p: string) {
    const b = this.files.get(p);
    if (!b) throw new Error(`memory: no ${p}`);
    return b;
  }
}

function randomHeads(): DecodedHeads {
  const rng = new NoiseRng(1);
  const v = (s: number[]) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal());
  return { image: v(REAL_HEAD_SHAPES.image), text: v(REAL_HEAD_SHAPES.text), blurry: v(REAL_HEAD_SHAPES.blurry), retrieval: v(REAL_HEAD_SHAPES.retrieval), prompt: v(REAL_HEAD_SHAPES.prompt) };
}

/** Polls from Node (no in-page polling loop that would itself be a main-thread task every frame). */
async function pollUntil(page: Page, fn: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await page.evaluate(fn))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A partial run keeps the other part's results of the previous run (with that run's date). */
async function keepPrevious(results: Record<string, unknown>, keys: string[], ctx: BenchContext): Promise<void> {
  try {
    const prev = JSON.parse(await readFile(join(RESULTS_DIR, 'generate.json'), 'utf8')) as Record<string, unknown>;
    for (const k of keys) if (prev[k] !== undefined) results[k] = { ...(prev[k] as object), measuredIn: `previous run of ${String(prev.date)}` };
  } catch {
    ctx.log('no previous bench/results/generate.json to keep the Node results from');
  }
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

export default async function run(ctx: BenchContext): Promise<void> {
  const candidates = ctx.quick ? 1 : 4;
  const results: Record<string, unknown> = { candidates, loadAverageAtStart: loadavg() };
  const parts = (process.env.MIRAGE_BENCH_PARTS ?? 'node,chromium').split(',');
  if (parts.includes('node')) await nodeParts(ctx, candidates, results);
  else await keepPrevious(results, ['nodeStandInRealShapes', 'nodeDemoPack'], ctx);
  if (parts.includes('chromium')) await chromiumPart(ctx, results);
  results.loadAverageAtEnd = loadavg();
  const file = await ctx.writeResult('generate', results);
  ctx.log(`wrote ${file}`);
}

async function nodeParts(ctx: BenchContext, candidates: number, results: Record<string, unknown>): Promise<void> {
  // 1a. Stand-in pack at real shapes, Node wasm, MIRAGE's steps.
  {
    const store = new MemStore();
    await buildStandInPack(store);
    const sessions = new PackSessions(await loadModelPack(store));
    const t0 = performance.now();
    await sessions.warm();
    const sessionMs = performance.now() - t0;
    const settings = { candidates, seed: 1, ...(ctx.quick ? { prior: { ...MIRAGE_DEFAULTS.prior, steps: 4 }, decoder: { ...MIRAGE_DEFAULTS.decoder, steps: 2 } } : {}) };
    const t1 = performance.now();
    const r = await reconstruct(sessions, randomHeads(), settings);
    results.nodeStandInRealShapes = { backend: 'onnxruntime-web wasm (Node, 1 thread)', sessionCreateMs: sessionMs, totalMs: performance.now() - t1, perStageMs: r.timings, settings: r.settings };
    ctx.log(`stand-in (real shapes) wasm: ${JSON.stringify(r.timings)}`);
    await sessions.dispose();
  }

  // 1b. Demo pack (mini bundle), Node wasm, through the service (decoding included).
  await ensureReconBundle(ctx);
  {
    const service = new GenerateService();
    await service.open(new FsShardSource(join(REPO_DIR, RECON_DIR)), new FsShardSource(join(REPO_DIR, RECON_DIR, 'modelpack')));
    const reps: Record<string, number>[] = [];
    for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
      const t = performance.now();
      const r = await service.reconstruct({ subject: 1, stimulus: 1, condition: 'vision', settings: { candidates: 16, seed: i } });
      reps.push({ ...r.timings, total: performance.now() - t });
    }
    results.nodeDemoPack = { backend: 'onnxruntime-web wasm (Node)', candidates: 16, runs: reps };
    ctx.log(`demo pack wasm (16 candidates): ${JSON.stringify(reps.at(-1))}`);
    await service.dispose();
  }
}

async function chromiumPart(ctx: BenchContext, results: Record<string, unknown>): Promise<void> {
  await ensureReconBundle(ctx);
  // 2. Chromium: the app page, WebGPU vs wasm, longest main-thread task — on the production build
  //    (what a deployment serves: React's production build) and on the dev server (`npm start`'s
  //    default: React's development build, StrictMode double effects). MIRAGE_BENCH_BUILDS picks.
  const builds = (process.env.MIRAGE_BENCH_BUILDS ?? 'production,development').split(',') as AppBuild[];
  const perBuild: Record<string, unknown> = {};
  for (const b of builds) perBuild[b] = await chromiumRuns(ctx, b);
  results.chromium = perBuild;
}

type AppBuild = 'production' | 'development';

/** Serves the app: the Vite dev server at the repo root, or a production build (vite build into a temp
 *  folder, the test bundle copied beside it, vite preview). Returns the URL and a closer. */
async function serveApp(kind: AppBuild): Promise<{ base: string; bundlePath: string; close: () => Promise<void> }> {
  if (kind === 'development') {
    const server = await createServer({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', server: { host: '127.0.0.1', port: 5293, strictPort: false, hmr: false } });
    await server.listen();
    return { base: server.resolvedUrls!.local[0].replace(/\/$/, ''), bundlePath: `/${RECON_DIR}/`, close: () => server.close() };
  }
  const outDir = mkdtempSync(join(os.tmpdir(), 'mirage-bench-dist-'));
  await viteBuild({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', publicDir: false, build: { outDir, emptyOutDir: true } });
  cpSync(join(REPO_DIR, RECON_DIR), join(outDir, 'recon-demo'), { recursive: true });
  const server = await vitePreview({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 5294, strictPort: false } });
  return {
    base: server.resolvedUrls!.local[0].replace(/\/$/, ''),
    bundlePath: '/recon-demo/',
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

async function chromiumRuns(ctx: BenchContext, build: AppBuild): Promise<Record<string, unknown>> {
  const { base, bundlePath, close } = await serveApp(build);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on('pageerror', (e) => ctx.log(`[page error] ${e.message}`));
    await page.addInitScript(watchMainThread, false);
    await page.goto(`${base}/?bundle=${encodeURIComponent(bundlePath)}&subj=1&stim=1&cond=vision&tab=reconstruct`);
    const browserRuns: Record<string, unknown> = {};
    for (const ep of ['webgpu', 'wasm'] as const) {
      // "WebGPU, every stage" (not "fastest", which picks wasm on a CPU-emulated adapter) vs wasm
      await page.getByTestId('reconstruct-panel').waitFor({ timeout: 300_000 });
      await page.getByTestId('rc-device').selectOption(ep);
      await page.locator(`[data-testid="rc-ep"][data-ep="${ep}"]`).waitFor({ timeout: 300_000 });
      await page.getByTestId('rc-candidates').fill(String(ctx.quick ? 2 : 16));
      const runs = [];
      const cdp = await page.context().newCDPSession(page);
      // Playwright's own in-page helpers are compiled on first use: do it before measuring.
      await page.waitForFunction(() => true);
      await page.waitForTimeout(1000);
      for (let i = 0; i < (ctx.quick ? 1 : 2); i++) {
        // the previous reply stays in the page (comparing a serialised copy would always differ)
        await page.evaluate(() => {
          const w = window as unknown as { __longest: number; __maxGap: number; __beat: number; __prev: unknown };
          w.__longest = 0;
          w.__maxGap = 0;
          w.__beat = performance.now();
          w.__prev = window.mirageReconstruct?.last() ?? null;
        });
        const loadBefore = loadavg();
        // MIRAGE_BENCH_TRACE=0: no CDP trace (its event stream costs CPU on a 2-core machine); the
        // longtask observer and the heartbeat still measure the main thread
        const { events } = await traced(process.env.MIRAGE_BENCH_TRACE === '0' ? null : cdp, async () => {
          await page.getByTestId('rc-run').click();
          await pollUntil(
            page,
            () => {
              const l = window.mirageReconstruct?.last();
              return !!l && l !== (window as unknown as { __prev: unknown }).__prev && !window.mirageReconstruct?.busy();
            },
            600_000,
          );
          // let the result paint before reading the longest task
          await page.waitForTimeout(1000);
        });
        const r = await page.evaluate(() => {
          const l = window.mirageReconstruct!.last()!;
          const w = window as unknown as { __longest: number; __maxGap: number };
          return { ep: l.executionProvider, timings: l.timings, longestTaskMs: w.__longest, maxHeartbeatGapMs: w.__maxGap };
        });
        runs.push({ ...r, mainThreadTrace: events.length ? summarizeMainThread(events) : 'not traced (MIRAGE_BENCH_TRACE=0)', loadAverage: { before: loadBefore, after: loadavg() } });
        ctx.log(`chromium ${build} ${ep}: ${JSON.stringify(runs.at(-1))}`);
      }
      await cdp.detach();
      browserRuns[ep] = runs;
    }
    return {
      build,
      browser: browser.version(),
      longestTask: 'longestTaskMs: PerformanceObserver longtask (wall, >= 50 ms only, else 0); mainThreadTrace: every main-thread task of the run from a CDP trace, wall (dur) and thread CPU (tdur)',
      imagesToPage: 'ImageBitmap at display size (<= 256 px), made and transferred by the worker; the page only drawImage()s', webgpuAdapter: 'SwiftShader if no GPU (CPU emulation)', candidates: ctx.quick ? 2 : 16, runs: browserRuns };
  } finally {
    await browser.close();
    await close();
  }
}

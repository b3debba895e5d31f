// Main-thread responsiveness of the explorer page on the default demo bundle (`mirage demo`, what
// `npm start` serves): the longest main-thread task (a) from opening the page until the first decoded
// trial AND the cortex panel's first update are shown, and (b) for each selection change (subject,
// condition, stimulus) until the page shows the new selection decoded and perturbed, (c) a perturbation
// of an ROI, opening the Reconstruction tab, one reconstruction and the Evaluation tab. Goal (issue 17):
// no task over 50 ms on a real GPU, none over 250 ms on a 2-core machine with SwiftShader.
// Measured with a PerformanceObserver on 'longtask' (wall time of every task >= 50 ms, with its
// attribution) and, unless MIRAGE_BENCH_TRACE=0, a CDP trace of the main thread (wall and thread CPU
// of every task, and what the longest one ran; summarizeMainThread from trace.ts). Also
// counts the shard requests of the session (each byte range should be fetched once).
// MIRAGE_UI_PROFILE=1 adds a CPU profile of the page per step (JS self time by function).
// Run: `node bin/mirage.js bench ui` (MIRAGE_BENCH_BUILDS=development|production, default both;
// MIRAGE_UI_BUNDLE=<folder> to use another bundle than .cache/ui-demo, built when missing).
// WebGL and WebGPU here are SwiftShader (CPU emulation) unless Chromium finds a GPU: recorded.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { basename, join, relative } from 'node:path';
import { chromium, type CDPSession, type Page } from 'playwright-core';
import { build as viteBuild, createServer, preview as vitePreview } from 'vite';
import { writeAtomically } from '../src/node/atomic.ts';
import { buildDemo } from '../src/core/simulate/buildDemo.ts';
import { summarizeMainThread, traced } from './trace.ts';
import { CHROMIUM, CHROMIUM_ARGS, REPO_DIR } from './lib-browser.ts';
import type { BenchContext } from './lib.ts';

const DEFAULT_BUNDLE = '.cache/ui-demo';
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

type AppBuild = 'production' | 'development';

interface LongTask {
  ms: number;
  at: number;
  attribution: string;
}

interface Step {
  name: string;
  /** Longest main-thread task (PerformanceObserver longtask, wall ms; 0 = none >= 50 ms). */
  longestTaskMs: number;
  tasksOver50ms: number;
  tasksOver250ms: number;
  /** Until the decoded trial and the cortex update for the new selection were on screen (ms). */
  settledMs: number;
  mainThreadTrace: ReturnType<typeof summarizeMainThread> | string;
  mainThreadJsSelfTime?: string[];
  loadAverage: { before: number[]; after: number[] };
}

async function ensureBundle(ctx: BenchContext, dir: string): Promise<void> {
  if (existsSync(join(REPO_DIR, dir, 'manifest.json'))) return;
  ctx.log(`building the demo bundle into ${dir} (mirage demo defaults; several minutes)`);
  await writeAtomically(join(REPO_DIR, dir), (sink) => buildDemo(sink, { seed: 1, command: 'bench ui: buildDemo (defaults)' }));
}

async function serve(kind: AppBuild, bundleDir: string): Promise<{ base: string; bundlePath: string; close: () => Promise<void> }> {
  if (kind === 'development') {
    const server = await createServer({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', server: { host: '127.0.0.1', port: 5295, strictPort: false, hmr: false } });
    await server.listen();
    return { base: server.resolvedUrls!.local[0].replace(/\/$/, ''), bundlePath: `/${relative(REPO_DIR, join(REPO_DIR, bundleDir))}/`, close: () => server.close() };
  }
  const outDir = mkdtempSync(join(os.tmpdir(), 'mirage-bench-ui-'));
  await viteBuild({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', publicDir: false, build: { outDir, emptyOutDir: true } });
  cpSync(join(REPO_DIR, bundleDir), join(outDir, basename(bundleDir)), { recursive: true });
  const server = await vitePreview({ configFile: join(REPO_DIR, 'vite.config.ts'), root: REPO_DIR, logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 5296, strictPort: false } });
  return {
    base: server.resolvedUrls!.local[0].replace(/\/$/, ''),
    bundlePath: `/${basename(bundleDir)}/`,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** Polls from Node (an in-page polling loop would itself be main-thread work). */
async function pollUntil(page: Page, fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await page.evaluate(fn).catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The page shows the selection decoded and the cortex panel's update for it. */
function settled(): boolean {
  const decoded = document.querySelector('[data-testid=decode-status][data-status=done]');
  const cortex = document.querySelector('[data-testid=cortex-panel]');
  const banner = document.querySelector('[data-testid=error-banner]');
  if (banner) throw new Error(`the page shows an error: ${banner.textContent}`);
  return !!decoded && (!cortex || cortex.getAttribute('data-ready') === 'true');
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Main-thread JS self time by function over a step (MIRAGE_UI_PROFILE=1): where the page's CPU went. */
function topSelfTime(p: CpuProfile, n = 12): string[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    if (!f.url && /^\((idle|program|root)\)$/.test(f.functionName)) return;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\//, '').replace(/\?.*/, '')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${k} ${(us / 1000).toFixed(1)} ms`);
}

async function measure(page: Page, cdp: CDPSession | null, name: string, act: () => Promise<void>, ctx: BenchContext, until: () => boolean = settled, timeoutMs = 600_000): Promise<Step> {
  await page.evaluate(() => {
    (window as unknown as { __tasks: LongTask[] }).__tasks = [];
  });
  const before = loadavg();
  const t0 = Date.now();
  const profiling = !!cdp && process.env.MIRAGE_UI_PROFILE === '1';
  if (profiling) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
    await cdp.send('Profiler.start');
  }
  const { events } = await traced(cdp, async () => {
    await act();
    await pollUntil(page, until, timeoutMs, `${name}: ${until === settled ? 'decoded trial + cortex update' : 'its result on screen'}`);
    // the last results paint
    await page.waitForTimeout(1500);
  });
  const profile = profiling ? topSelfTime(((await cdp.send('Profiler.stop')) as { profile: CpuProfile }).profile) : undefined;
  const settledMs = Date.now() - t0;
  const tasks = await page.evaluate(() => (window as unknown as { __tasks: LongTask[] }).__tasks);
  const step: Step = {
    name,
    longestTaskMs: Math.round(Math.max(0, ...tasks.map((t) => t.ms))),
    tasksOver50ms: tasks.length,
    tasksOver250ms: tasks.filter((t) => t.ms > 250).length,
    settledMs,
    mainThreadTrace: events.length ? summarizeMainThread(events) : 'not traced (MIRAGE_BENCH_TRACE=0)',
    loadAverage: { before, after: loadavg() },
    ...(profile ? { mainThreadJsSelfTime: profile } : {}),
  };
  if (profile) ctx.log(`  JS self time: ${profile.slice(0, 8).join('; ')}`);
  ctx.log(`${name}: longest task ${step.longestTaskMs} ms, ${step.tasksOver50ms} tasks >= 50 ms, ${step.tasksOver250ms} > 250 ms; settled in ${settledMs} ms`);
  if (typeof step.mainThreadTrace === 'object' && step.mainThreadTrace) ctx.log(`  longest traced task: ${step.mainThreadTrace.longestWallMs} ms wall / ${step.mainThreadTrace.cpuOfLongestMs} ms CPU: ${step.mainThreadTrace.longestContents}`);
  return step;
}

async function session(ctx: BenchContext, build: AppBuild, bundleDir: string): Promise<Record<string, unknown>> {
  const { base, bundlePath, close } = await serve(build, bundleDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => ctx.log(`[page error] ${e.message}`));
    await page.addInitScript(() => {
      const w = window as unknown as { __tasks: { ms: number; at: number; attribution: string }[] };
      w.__tasks = [];
      new PerformanceObserver((l) => {
        for (const e of l.getEntries() as (PerformanceEntry & { attribution?: { containerType?: string; containerName?: string; containerSrc?: string }[] })[]) {
          const a = e.attribution?.[0];
          w.__tasks.push({ ms: e.duration, at: e.startTime, attribution: a ? `${a.containerType ?? ''} ${a.containerName ?? ''} ${a.containerSrc ?? ''}`.trim() : '' });
        }
      }).observe({ type: 'longtask', buffered: true });
    });
    // Shard requests of the whole session (dedicated workers' fetches are reported on the page).
    const manifest = JSON.parse(readFileSync(join(REPO_DIR, bundleDir, 'manifest.json'), 'utf8')) as { shards: { path: string }[] };
    const shardPaths = new Set(manifest.shards.map((s) => s.path));
    const requests = new Map<string, { get: number; head: number; failed: number }>();
    const shardOf = (url: string) => {
      const u = new URL(url);
      if (!u.pathname.startsWith(bundlePath)) return null;
      const p = decodeURIComponent(u.pathname.slice(bundlePath.length));
      return shardPaths.has(p) ? p : null;
    };
    page.on('request', (r) => {
      const p = shardOf(r.url());
      if (!p) return;
      const c = requests.get(p) ?? { get: 0, head: 0, failed: 0 };
      if (r.method() === 'HEAD') c.head++;
      else c.get++;
      requests.set(p, c);
    });
    page.on('requestfailed', (r) => {
      const p = shardOf(r.url());
      if (p) requests.get(p)!.failed++;
    });
    const cdp = process.env.MIRAGE_BENCH_TRACE === '0' ? null : await context.newCDPSession(page);
    const steps: Step[] = [];
    const failedSteps: { name: string; error: string; panelText: string }[] = [];
    const url = `${base}/?bundle=${encodeURIComponent(bundlePath)}`;
    ctx.log(`${build}: opening ${url}`);
    steps.push(
      await measure(page, cdp, 'first load', async () => {
        await page.goto(url, { waitUntil: 'commit', timeout: 600_000 });
      }, ctx),
    );
    const subjects = await page.locator('[data-testid^=subject-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!));
    const other = subjects.find((s) => s !== 'subject-1' && /^subject-\d+$/.test(s));
    if (other) steps.push(await measure(page, cdp, `subject change (${other})`, () => page.getByTestId(other).click(), ctx));
    steps.push(await measure(page, cdp, 'condition change (imagery)', () => page.getByTestId('condition-imagery').click(), ctx));
    const stimuli = await page.locator('[data-testid^=stimulus-]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!));
    for (const s of stimuli.slice(3, 5)) steps.push(await measure(page, cdp, `stimulus change (${s})`, () => page.getByTestId(s).click(), ctx));
    // A perturbation: select the first ROI, apply the editor's default (gain) and wait for the worker's update.
    const roi = page.locator('[data-testid^=cortex-roi-]').first();
    if (await roi.count()) {
      await roi.click();
      await pollUntil(page, settled, 600_000, 'ROI selected');
      steps.push(
        await measure(page, cdp, 'perturbation (apply gain to an ROI)', async () => {
          await page.getByTestId('cortex-apply').click();
          await page.waitForTimeout(300);
        }, ctx),
      );
    }
    // Reconstruction: open the tab (model pack), then one run with 2 candidates until its result
    // shows; then the Evaluation tab. A step that does not finish is recorded with what the panel
    // said, and the session goes on (the selection steps above are the ones the budget is for).
    const attempt = async (name: string, act: () => Promise<void>, until: () => boolean): Promise<boolean> => {
      try {
        steps.push(await measure(page, cdp, name, act, ctx, until, 300_000));
        return true;
      } catch (e) {
        const said = await page.locator('main').innerText().catch(() => '');
        failedSteps.push({ name, error: (e as Error).message, panelText: said.slice(0, 600) });
        ctx.log(`${name}: ${(e as Error).message}`);
        return false;
      }
    };
    if (await attempt('reconstruction tab (model pack opens)', () => page.getByRole('tab', { name: 'Reconstruction' }).click(), () => !!document.querySelector('[data-testid=rc-ep]'))) {
      await page.getByTestId('rc-candidates').fill('2');
      await attempt('reconstruction run (2 candidates)', () => page.getByTestId('rc-run').click(), () => !!document.querySelector('[data-testid=rc-result]'));
    }
    await attempt('evaluation tab (scores the session reconstructions)', () => page.getByRole('tab', { name: 'Evaluation' }).click(), () => /done|error/.test(document.querySelector('[data-testid=eval-status]')?.getAttribute('data-status') ?? ''));
    const gl = await page.evaluate(() => {
      const c = document.createElement('canvas').getContext('webgl2');
      const dbg = c?.getExtension('WEBGL_debug_renderer_info');
      return dbg ? String(c!.getParameter(dbg.UNMASKED_RENDERER_WEBGL)) : 'unknown';
    });
    const perShard = [...requests.values()];
    return {
      build,
      browser: browser.version(),
      webglRenderer: gl,
      bundle: bundleDir,
      viewport: '1440x900',
      steps,
      failedSteps,
      worstTaskMs: Math.max(...steps.map((s) => s.longestTaskMs)),
      shardRequests: {
        shards: shardPaths.size,
        shardsRequested: requests.size,
        gets: perShard.reduce((a, c) => a + c.get, 0),
        heads: perShard.reduce((a, c) => a + c.head, 0),
        failed: perShard.reduce((a, c) => a + c.failed, 0),
        maxGetsOfOneShard: Math.max(0, ...perShard.map((c) => c.get)),
      },
    };
  } finally {
    await browser.close();
    await close();
  }
}

export default async function run(ctx: BenchContext): Promise<void> {
  const bundleDir = process.env.MIRAGE_UI_BUNDLE ?? DEFAULT_BUNDLE;
  await ensureBundle(ctx, bundleDir);
  const builds = (process.env.MIRAGE_BENCH_BUILDS ?? 'development,production').split(',') as AppBuild[];
  const results: Record<string, unknown> = {
    measure: 'longestTaskMs: PerformanceObserver longtask (wall ms, tasks >= 50 ms only; 0 = none); mainThreadTrace: every main-thread task from a CDP trace (wall dur, thread CPU tdur)',
    goal: 'no task over 50 ms on a real GPU; none over 250 ms on a 2-core machine with SwiftShader (issue 17)',
    loadAverageAtStart: loadavg(),
  };
  const perBuild: Record<string, unknown> = {};
  for (const b of builds) perBuild[b] = await session(ctx, b, bundleDir);
  results.chromium = perBuild;
  results.loadAverageAtEnd = loadavg();
  const label = process.env.MIRAGE_BENCH_LABEL;
  const file = await ctx.writeResult(label ? `ui-${label}` : 'ui', results);
  ctx.log(`wrote ${file}`);
}

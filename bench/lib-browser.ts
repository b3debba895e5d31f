// Runs a benchmark page in headless Chromium: a Vite dev server rooted at bench/ (TypeScript and
// node_modules served as the app would get them, with the cross-origin-isolation headers wasm
// threads need), Debian's chromium driven by playwright-core, and the page's result collected from
// window.__benchDone. WebGPU here is whatever Chromium exposes: SwiftShader (a CPU emulation) on
// machines without a GPU, which the caller must record as such.
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from '../scripts/chromium.ts';
import { BENCH_DIR } from './lib.ts';

export const REPO_DIR = dirname(BENCH_DIR);
export { CHROMIUM, CHROMIUM_ARGS };
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** URL prefix under which the page finds tfjs-backend-wasm's .wasm files (Vite serves /@fs/ paths). */
export function devServerWasmPaths(): string {
  return `/@fs${join(REPO_DIR, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')}/`;
}

export interface BrowserRun<T> {
  result: T;
  browserVersion: string;
  /** Console lines of the page. */
  console: string[];
}

/**
 * Opens the benchmark page bench/browser/<page>.ts (e.g. "decode") in the one HTML shell
 * bench/browser/index.html with `query`, waits up to `timeoutMs` for window.__benchDone and returns
 * its result (throws the page's error).
 */
export async function runBenchPage<T>(
  page: string,
  query: Record<string, string>,
  /** fsAllow: folders outside the repository the page may read through /@fs/ (a multi-GB pack kept under /tmp). */
  opts: { timeoutMs?: number; log?: (m: string) => void; fsAllow?: string[] } = {},
): Promise<BrowserRun<T>> {
  const log = opts.log ?? (() => {});
  const server = await createServer({
    configFile: false,
    root: BENCH_DIR,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 5290, strictPort: false, headers: ISOLATION_HEADERS, hmr: false, watch: null, fs: { allow: [REPO_DIR, ...(opts.fsAllow ?? [])] } },
    // tfjs and its backends must share one pre-bundled tfjs-core; pre-bundling up front also avoids
    // a mid-run "new dependencies optimised" reload.
    optimizeDeps: { entries: [`browser/${page}.ts`], include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm'] },
  });
  await server.listen();
  const base = server.resolvedUrls?.local[0];
  if (!base) throw new Error('vite dev server did not report a URL');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const lines: string[] = [];
  try {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    p.on('console', (m) => {
      lines.push(m.text());
      log(`[page] ${m.text()}`);
    });
    p.on('pageerror', (e) => log(`[page error] ${e.message}`));
    const url = `${base.replace(/\/$/, '')}/browser/index.html?${new URLSearchParams({ page, ...query })}`;
    log(`opening ${url}`);
    await p.goto(url);
    const deadline = Date.now() + (opts.timeoutMs ?? 20 * 60_000);
    for (;;) {
      let done: { ok: boolean; result?: T; error?: string } | undefined;
      try {
        done = await p.evaluate(() => (window as unknown as { __benchDone?: { ok: boolean; result?: unknown; error?: string } }).__benchDone as never);
      } catch {
        // A navigation (reload) replaced the context; keep polling the new one.
      }
      if (done) {
        if (!done.ok) throw new Error(`benchmark page failed: ${done.error}`);
        return { result: done.result as T, browserVersion: browser.version(), console: lines };
      }
      if (Date.now() > deadline) throw new Error(`benchmark page did not finish within ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

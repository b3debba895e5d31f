// Reconstruction in headless Chromium with WebGPU (SwiftShader): a simple-stimulus vision trial goes
// through the whole MIRAGE pipeline in the generate worker, the page stays responsive meanwhile, and
// a screenshot is kept (test-results/browser/reconstruct.png).
// Data: a small SIMULATED bundle + the demo model pack (src/core/generate/miniBundle.ts), under
// .cache/test-bundles/recon-demo/ (rebuilt when missing).
import { expect, test, type Page } from '@playwright/test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../../cli/lib/fsSink.ts';
import { writeMiniReconBundle } from '../../src/core/generate/miniBundle.ts';
import { IMAGE_SIZE } from '../../src/core/simulate/dims.ts';

const DIR = '.cache/test-bundles/recon-demo';

test.beforeAll(async () => {
  test.setTimeout(600_000);
  if (!existsSync(join(DIR, 'modelpack', 'modelpack.json'))) await writeAtomically(DIR, (sink) => writeMiniReconBundle(sink));
});

test('reconstructs a simple-stimulus vision trial on WebGPU; the page stays responsive', async ({ page }) => {
  // SwiftShader compiles every WebGPU kernel on the CPU: minutes on a loaded 2-core machine.
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as { __longest: number };
    w.__longest = 0;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  // A shared dev server may reload the page (dependency optimisation, another engineer's edit):
  // one reload restarts the attempt; it is not the page being unresponsive.
  let rtts: number[] = [];
  let last: { ep: string; n: number; best: number; scores: number[]; caption: string; size: number; low?: number } | null = null;
  for (let attempt = 0; attempt < 3 && !last; attempt++) {
    try {
      last = await attemptReconstruction(page, (r) => (rtts = r));
    } catch (e) {
      if (!/context was destroyed|navigation|Target page/.test(String(e)) || attempt === 2) throw e;
    }
  }
  expect(last!.ep).toBe('webgpu');
  expect(last!.n).toBe(4);
  expect(last!.size).toBe(IMAGE_SIZE);
  expect(last!.low).toBe(64);
  expect(last!.scores[last!.best]).toBe(Math.max(...last!.scores));
  await expect(page.getByTestId('rc-caption')).toHaveText(/^a \w+ \w+ on \w+$/);
  const longest = await page.evaluate(() => (window as unknown as { __longest: number }).__longest);
  test.info().annotations.push({ type: 'main-thread', description: `longest task ${longest.toFixed(0)} ms; main-thread round trips ${rtts.join(', ')} ms` });
  expect(Math.max(...rtts)).toBeLessThan(2000);
  await page.screenshot({ path: 'test-results/browser/reconstruct.png', fullPage: true, timeout: 120_000 });
  expect(errors).toEqual([]);
});

async function attemptReconstruction(page: Page, setRtts: (r: number[]) => void) {
  await page.goto(`/?bundle=${encodeURIComponent(`/${DIR}/`)}&subj=1&stim=1&cond=vision&tab=reconstruct`);
  const panel = page.getByTestId('reconstruct-panel');
  await expect(panel).toBeVisible();
  await expect(page.getByTestId('rc-ep')).toBeVisible({ timeout: 400_000 });
  const ep = await page.getByTestId('rc-ep').innerText();
  expect(ep).toBe('WebGPU');
  await page.getByTestId('rc-candidates').fill('4');
  await page.evaluate(() => ((window as unknown as { __longest: number }).__longest = 0));
  await page.getByTestId('rc-run').click();
  // While it runs, the page's main thread answers quickly (the work is in the worker). A macrotask
  // round trip, not requestAnimationFrame: under SwiftShader, frames wait for the GPU process, which
  // is busy running the WebGPU kernels; that is the emulated GPU, not the page's thread.
  const rtts: number[] = [];
  setRtts(rtts);
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    await page.evaluate(() => new Promise((r) => setTimeout(() => r(null), 0)));
    rtts.push(Date.now() - t0);
    await page.waitForTimeout(200);
  }
  const result = page.getByTestId('rc-result');
  const error = page.locator('.rc-error');
  await expect(result.or(error).first()).toBeVisible({ timeout: 400_000 });
  if (await error.isVisible()) throw new Error(`the panel shows an error: ${await error.innerText()}`);
  return page.evaluate(() => {
    const r = window.mirageReconstruct!.last()!;
    return { ep: r.executionProvider, n: r.candidates.length, best: r.best, scores: r.scores, caption: r.caption, size: r.candidates[0].width, low: r.lowLevel?.width };
  });
}

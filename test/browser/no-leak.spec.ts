// Brain data never leaves the machine, and the page phones nowhere: every request the page and its
// workers make while opening a bundle, decoding, perturbing and reconstructing is recorded, and any
// request (or WebSocket) to an origin other than the page's and the bundle's fails the test.
// Data: the small SIMULATED bundle + demo model pack of reconstruct.spec.ts (.cache/test-bundles/recon-demo/).
import { expect, test } from '@playwright/test';
import { waitForDecoded } from './helpers/page.ts';
import { quickReconSettings, RECON_BUNDLE, useReconBundle } from './helpers/reconBundle.ts';

const DIR = RECON_BUNDLE;

useReconBundle();

/** Origins a URL talks to; null for URLs that are not network requests (data:, blob:, about:). */
function networkOrigin(url: string): string | null {
  const u = new URL(url);
  return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:' ? `${u.protocol.replace(/^ws/, 'http')}//${u.host}` : null;
}

test('opening, decoding, perturbing and reconstructing requests nothing outside the page and the bundle', async ({ page, context, baseURL }) => {
  test.setTimeout(900_000);
  const bundleUrl = `/${DIR}/`;
  const requests: string[] = [];
  // the context sees the page's, its workers' and any service worker's requests
  context.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => requests.push(ws.url()));
  page.on('worker', (w) => requests.push(w.url()));
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  const attempt = async () => {
    errors.length = 0; // an interrupted attempt's errors are the server's, not the page's
    // open + decode
    await page.goto(`/?bundle=${encodeURIComponent(bundleUrl)}&subj=1&stim=1&cond=vision`);
    await waitForDecoded(page, 400_000);

    // perturb and reconstruct through the app's own worker client (the cortex panel's call), then
    // a plain reconstruction from the Reconstruction tab's button
    await page.goto(`/?bundle=${encodeURIComponent(bundleUrl)}&subj=1&stim=1&cond=vision&tab=reconstruct`);
    await expect(page.getByTestId('rc-ep')).toBeVisible({ timeout: 400_000 });
    const perturbed = await page.evaluate(async ({ dir, settings }) => {
      const load = new Function('u', 'return import(u)') as (u: string) => Promise<typeof import('../../src/app/reconstruct/client.ts')>;
      const client = await load('/src/app/reconstruct/client.ts');
      const manifest = (await (await fetch(`/${dir}/manifest.json`)).json()) as { subjects: { heads: { name: string; outputShape: number[] }[] }[] };
      const size = manifest.subjects[0].heads.find((h) => h.name === 'prompt')!.outputShape.reduce((a, b) => a * b, 1);
      const prompt = Float32Array.from({ length: size }, (_, i) => 10 * Math.cos(i * 0.11));
      const r = await client.runReconstruction({ subject: 1, stimulus: 1, condition: 'vision', settings, headDeltas: { prompt }, deltaLabel: 'no-leak check' });
      return r.perturbed;
    }, { dir: DIR, settings: quickReconSettings({ candidates: 1, seed: 3, priorSteps: 2, decoderSteps: 1, captionMaxTokens: 4 }) });
    expect(perturbed).toMatch(/^no-leak check: /);
    await page.getByTestId('rc-candidates').fill('1');
    await page.getByTestId('rc-run').click();
    const result = page.getByTestId('rc-result');
    const error = page.locator('.rc-error');
    await expect(result.or(error).first()).toBeVisible({ timeout: 600_000 });
    expect(await error.isVisible()).toBe(false);
  };
  // A shared dev server may restart or reload the page (dependency optimisation, another engineer's
  // edit): a refused connection or a destroyed context restarts the attempt; the requests of every
  // attempt are kept and checked.
  for (let i = 0; ; i++) {
    try {
      await attempt();
      break;
    } catch (e) {
      if (i === 2 || !/ERR_CONNECTION_REFUSED|Failed to fetch|context was destroyed|navigation|Target page/.test(String(e))) throw e;
      console.log(`no-leak: attempt ${i + 1} interrupted by the dev server (${String(e).split('\n')[0]}); again`);
      await page.waitForTimeout(5000);
    }
  }

  // what the page itself says it loaded (resource timing) joins what the browser saw
  requests.push(...(await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))));
  const allowed = new Set([networkOrigin(baseURL!)!, networkOrigin(new URL(bundleUrl, baseURL!).href)!]);
  const outside = [...new Set(requests)].filter((u) => {
    const o = networkOrigin(u);
    return o !== null && !allowed.has(o);
  });
  console.log(`no-leak: ${requests.length} requests to ${[...allowed].join(', ')}`);
  expect(requests.some((u) => u.includes(`${DIR}/manifest.json`))).toBe(true); // the recording works
  expect(outside).toEqual([]);
  expect(errors).toEqual([]);
});

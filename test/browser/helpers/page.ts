// Shared steps of the browser specs: wait for the app to decode, read the identification ranks.
import { expect, type Page } from '@playwright/test';

/** Fails the test with the page's error banner text if one appears while waiting. */
export async function waitForDecoded(page: Page, timeout = 180_000): Promise<void> {
  const done = page.locator('[data-testid=decode-status][data-status=done]');
  const banner = page.getByTestId('error-banner');
  await expect(done.or(banner).first()).toBeVisible({ timeout });
  if (await banner.isVisible()) throw new Error(`the page shows an error: ${await banner.innerText()}`);
}

/** Collects console errors and uncaught page errors (asserted empty at the end of a spec). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export interface IdentificationSummary {
  subject: number;
  ranks: Array<{ stimulus: number; trial: number; rank: number }>;
  candidates: number;
  backend: string;
}

/**
 * In the page: decodes every vision trial of the simple stimuli of the first decoded subject with
 * the image head, and ranks the 18 stimuli by cosine similarity (the worker's identify()).
 */
export async function identifySimpleVisionTrials(page: Page): Promise<IdentificationSummary> {
  return page.evaluate(async () => {
    const m = window.mirage!;
    const manifest = m.bundle.getState().manifest!;
    const client = m.client();
    const subject = m.selectors.decodedSubjects(manifest)[0].id;
    const ranks: Array<{ stimulus: number; trial: number; rank: number }> = [];
    let backend = '';
    let candidates = 0;
    for (const s of manifest.stimuli.filter((x) => x.set === 'simple')) {
      const trials = m.selectors.trialIndices(manifest, subject, s.id, 'vision');
      const res = await client.decode({ subject, trials, heads: ['image'], average: false });
      backend = res.backend;
      const p = res.predictions.image!;
      const d = p.values.length / p.rows;
      for (let r = 0; r < p.rows; r++) {
        const id = await client.identify({ query: p.values.slice(r * d, (r + 1) * d), head: 'image', set: 'stimuli' });
        candidates = id.ranked.length;
        ranks.push({ stimulus: s.id, trial: trials[r], rank: id.ranked.findIndex((x) => x.id === s.id) + 1 });
      }
    }
    return { subject, ranks, candidates, backend };
  });
}

/** Mean rank must beat chance ((n+1)/2) by 3 standard errors of the mean rank under chance. */
export function chanceBound(candidates: number, trials: number): { chance: number; bound: number } {
  const chance = (candidates + 1) / 2;
  const sd = Math.sqrt((candidates * candidates - 1) / 12);
  return { chance, bound: chance - (3 * sd) / Math.sqrt(trials) };
}

/**
 * Opens an empty page at /__<name>/index.html with cross-origin isolation (wasm threads), as the
 * app's own pages are served, for specs that drive the library's modules directly in the page.
 */
export async function openIsolatedBlankPage(page: Page, name: string, title: string): Promise<void> {
  await page.route(`**/__${name}/index.html`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' },
      body: `<!doctype html><title>${title}</title>`,
    }),
  );
  await page.goto(`/__${name}/index.html`);
}

// A normal session on the small cortex demo (fresh browser context, nothing cached):
// 1. While the cortex worker computes its first update, the identification and "change per head"
//    charts say they are computing — never "The bundle has no image-head features of the stimuli",
//    which is false for this bundle (a MutationObserver records every text the panel ever showed).
// 2. Over the session (first load, another stimulus, the other condition, a perturbation) each byte
//    range of a shard (its one-byte size probe, its download) is fetched at most once although four
//    workers open the bundle, and no shard request is aborted (each shard used to be requested about
//    four times, the HEAD size checks ending as net::ERR_ABORTED).
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORTEX_BUNDLE, ensureCortexBundle } from './helpers/cortexBundle.ts';
import { waitForDecoded } from './helpers/page.ts';

test.use({ viewport: { width: 1440, height: 900 } });

test.beforeAll(async () => {
  test.setTimeout(600_000);
  await ensureCortexBundle();
});

test('cortex charts show a loading state, then data; each shard is fetched once in a session', async ({ page }) => {
  test.setTimeout(900_000);
  const base = `/${CORTEX_BUNDLE}/`;
  const shards = new Set((JSON.parse(readFileSync(join(CORTEX_BUNDLE, 'manifest.json'), 'utf8')) as { shards: { path: string }[] }).shards.map((s) => s.path));
  const gets = new Map<string, number>();
  const failed: string[] = [];
  const shardOf = (url: string) => {
    const p = decodeURIComponent(new URL(url).pathname);
    return p.startsWith(base) && shards.has(p.slice(base.length)) ? p.slice(base.length) : null;
  };
  // Keyed by shard and byte range: a one-byte size probe (bytes=0-0) and the download are two ranges.
  page.on('request', (r) => {
    const s = shardOf(r.url());
    const key = s && `${s} ${r.headers()['range'] ?? 'whole'}`;
    if (key && r.method() === 'GET') gets.set(key, (gets.get(key) ?? 0) + 1);
  });
  page.on('requestfailed', (r) => {
    const s = shardOf(r.url());
    if (s) failed.push(`${r.method()} ${s}: ${r.failure()?.errorText}`);
  });
  // Every text the cortex panel shows, from the first render on.
  await page.addInitScript(() => {
    const w = window as unknown as { __cortexTexts: Set<string> };
    w.__cortexTexts = new Set();
    new MutationObserver(() => {
      const panel = document.querySelector('[data-testid=cortex-panel]');
      if (panel) for (const el of panel.querySelectorAll('.muted, [role=status]')) w.__cortexTexts.add(el.textContent ?? '');
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });

  await page.goto(`/?bundle=${encodeURIComponent(base)}`);
  const panel = page.getByTestId('cortex-panel');
  // A picture of the loading state, if it is still on screen once the panel is there.
  const pending = page.getByTestId('cortex-pending').first();
  await pending.waitFor({ timeout: 600_000 }).catch(() => undefined);
  if (await pending.isVisible()) await page.getByTestId('cortex-panel').screenshot({ path: 'test-results/cortex-loading.png' }).catch(() => undefined);
  await expect(panel).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });
  await expect(page.getByTestId('cortex-cosines')).toBeVisible();
  await expect(page.getByTestId('cortex-head-change')).toBeVisible();
  const texts = await page.evaluate(() => [...(window as unknown as { __cortexTexts: Set<string> }).__cortexTexts]);
  expect(texts.filter((t) => /no image-head features/.test(t))).toEqual([]);
  expect(texts.some((t) => /Computing the image head's similarity to each stimulus/.test(t))).toBe(true);
  expect(texts.some((t) => /Computing the change of each decoder head/.test(t))).toBe(true);

  // The rest of a normal session.
  await waitForDecoded(page);
  const stimulus = page.locator('[data-testid^=stimulus-]').nth(4);
  await stimulus.click();
  await waitForDecoded(page);
  await expect(panel).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
  await page.getByTestId('condition-imagery').click();
  await waitForDecoded(page);
  await expect(panel).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
  await page.getByTestId('cortex-roi-V1').click();
  await page.getByTestId('cortex-kind').selectOption('gain');
  await page.getByTestId('cortex-gain').fill('0');
  await page.getByTestId('cortex-apply').click();
  await expect.poll(async () => page.evaluate(() => window.mirageCortex?.update()?.changedVoxels ?? 0), { timeout: 300_000 }).toBeGreaterThan(0);

  await page.screenshot({ path: 'test-results/cortex-session.png' });
  const counts = Object.fromEntries([...gets].sort());
  console.log(`shard GETs in the session: ${JSON.stringify(counts)}; failed: ${failed.length}`);
  expect(gets.size).toBeGreaterThan(0);
  expect(Object.entries(counts).filter(([, n]) => n > 1)).toEqual([]);
  expect(failed).toEqual([]);
});

// Every screen of the demo at the two projector sizes a talk meets (1440x900 and 1280x720), saved
// under test-results/screenshots/<screen>-<w>x<h>.png to be looked at (loading, trial, the cortex
// panel, presentation mode, reconstruction, evaluation, audience setup and a 2AFC trial), with the
// layout checks a screenshot shows at a glance: nothing wider than the window, images inside their
// cards, every chart's text inside its chart and at least 12 px on screen, only themed controls.
// Data: the demo bundle (public/demo, built by `mirage demo`; scripts/test.mjs builds it when missing).
import { expect, test, type Page } from '@playwright/test';
import { collectPageErrors, waitForDecoded } from './helpers/page.ts';
import { clippedSvgText, horizontalOverflow, nativeLookingControls, overflowingImages, smallChartText } from './helpers/screenChecks.ts';

const DEMO = process.env.MIRAGE_DEMO_DIR ?? 'public/demo';
const SIZES = [
  { width: 1440, height: 900 },
  { width: 1280, height: 720 },
];

async function shot(page: Page, name: string): Promise<void> {
  const { width, height } = page.viewportSize()!;
  await page.screenshot({ path: `test-results/screenshots/${name}-${width}x${height}.png` });
}

for (const size of SIZES) {
  test(`screens at ${size.width}x${size.height}: trial, cortex presentation, reconstruction, evaluation, audience`, async ({ page }) => {
    test.setTimeout(1_200_000);
    const errors = collectPageErrors(page);
    await page.setViewportSize(size);
    await page.goto(`/?bundle=${encodeURIComponent(`/${DEMO}/`)}&gen=wasm`);
    await expect(page.getByTestId('loading').or(page.getByTestId('decode-status')).first()).toBeVisible({ timeout: 120_000 });
    await shot(page, 'loading');
    await waitForDecoded(page, 500_000); // the full demo decodes slowly on a loaded 2-core machine
    const cortex = page.getByTestId('cortex-panel');
    await expect(cortex).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
    await expect(page.getByTestId('cortex-lesion')).toBeVisible({ timeout: 300_000 });
    await shot(page, 'trial');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    // Every chart of the page outside presentation mode (trial and cortex panel): text >= 12 px, none cut.
    const main = page.locator('main');
    await expect.poll(() => smallChartText(main), { timeout: 20_000 }).toEqual([]);
    await expect.poll(() => clippedSvgText(main), { timeout: 20_000 }).toEqual([]);
    expect(await nativeLookingControls(page.locator('body'))).toEqual([]);
    await cortex.scrollIntoViewIfNeeded();
    await cortex.screenshot({ path: `test-results/screenshots/cortex-${size.width}x${size.height}.png` });
    expect(await overflowingImages(cortex)).toEqual([]);

    // Presentation mode: fills the window, nothing cut at the bottom or right, no image out of its card.
    await page.getByTestId('cortex-present').click();
    const present = page.locator('.cortex--present');
    await expect(present).toBeVisible();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))); // the canvas follows its new size
    await shot(page, 'cortex-presentation');
    const fit = await present.evaluate((el) => ({ sw: el.scrollWidth - el.clientWidth, sh: el.scrollHeight - el.clientHeight }));
    expect(fit.sw).toBeLessThanOrEqual(0);
    expect(fit.sh).toBeLessThanOrEqual(0);
    expect(await overflowingImages(present)).toEqual([]);
    expect(await smallChartText(present)).toEqual([]);
    await page.keyboard.press('Escape');
    await expect(present).toHaveCount(0);

    // Reconstruction, after one run.
    await page.getByRole('tab', { name: 'Reconstruction' }).click();
    const rc = page.getByTestId('reconstruct-panel');
    await expect(rc).toBeVisible({ timeout: 120_000 });
    await shot(page, 'reconstruction-loading');
    await expect(page.getByTestId('rc-ep')).toBeVisible({ timeout: 400_000 });
    await page.getByTestId('rc-candidates').fill('4');
    await page.getByTestId('rc-run').click();
    await expect(rc.getByTestId('rc-result')).toBeVisible({ timeout: 600_000 });
    await shot(page, 'reconstruction');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await overflowingImages(rc)).toEqual([]);
    expect(await nativeLookingControls(rc)).toEqual([]);

    // Evaluation of that reconstruction.
    await page.getByRole('tab', { name: 'Evaluation' }).click();
    const ev = page.getByTestId('evaluate-panel');
    await expect(page.getByTestId('eval-status')).toHaveAttribute('data-status', /done|error/, { timeout: 400_000 });
    await shot(page, 'evaluation');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await overflowingImages(ev)).toEqual([]);
    expect(await smallChartText(ev)).toEqual([]);
    await expect.poll(() => clippedSvgText(ev), { timeout: 20_000 }).toEqual([]);
    expect(await nativeLookingControls(ev)).toEqual([]);

    await page.getByRole('tab', { name: 'Audience 2AFC' }).click();
    await expect(page.getByTestId('audience-setup')).toBeVisible();
    await shot(page, 'audience');
    expect(await nativeLookingControls(ev)).toEqual([]);
    const start = page.locator('[data-testid^=aud-start-]:enabled').first();
    if (await start.count()) {
      await start.click();
      await expect(page.getByTestId('audience-trial')).toBeVisible();
      await shot(page, 'audience-trial');
      expect(await overflowingImages(ev)).toEqual([]);
      expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    }
    expect(errors).toEqual([]);
  });
}

// Every screen of the demo at the two projector sizes a talk meets (1440x900 and 1280x720), saved
// under test-results/screenshots/<screen>-<w>x<h>.png to be looked at, with the layout checks a
// screenshot shows at a glance: nothing wider than the window, images inside their cards, chart text
// inside its chart and at least 12 px on screen, presentation mode filling the window.
// Data: the demo bundle (public/demo, built by `mirage demo`; scripts/test.mjs builds it when missing).
import { expect, test, type Locator, type Page } from '@playwright/test';
import { collectPageErrors, waitForDecoded } from './helpers/page.ts';

const DEMO = process.env.MIRAGE_DEMO_DIR ?? 'public/demo';
const SIZES = [
  { width: 1440, height: 900 },
  { width: 1280, height: 720 },
];

async function shot(page: Page, name: string): Promise<void> {
  const { width, height } = page.viewportSize()!;
  await page.screenshot({ path: `test-results/screenshots/${name}-${width}x${height}.png` });
}

/** Elements wider than the window (a horizontal scrollbar on a projector). */
async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Images and canvases that stick out of the card, figure or chart that holds them. */
async function overflowingImages(root: Locator): Promise<string[]> {
  return root.evaluate((el) => {
    const out: string[] = [];
    for (const img of el.querySelectorAll<HTMLElement>('canvas, img, svg')) {
      const box = img.closest<HTMLElement>('.card, .eval-chart, .rc-result, .cortex__chart, .cortex__stage, .aud');
      if (!box || img.offsetParent === null) continue;
      const a = img.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      if (a.right > b.right + 1 || a.left < b.left - 1) out.push(`${img.tagName.toLowerCase()}.${img.getAttribute('class') ?? ''} ${Math.round(a.left)}-${Math.round(a.right)} outside ${box.className} ${Math.round(b.left)}-${Math.round(b.right)}`);
    }
    return out;
  });
}

/** Chart text drawn smaller than `min` px on screen (SVG text is scaled with its viewBox). */
async function smallChartText(root: Locator, min = 12): Promise<string[]> {
  return root.evaluate((el, m) => {
    const out: string[] = [];
    for (const t of el.querySelectorAll<SVGTextElement>('svg text')) {
      if (!t.textContent?.trim()) continue;
      const svg = t.ownerSVGElement!;
      const scale = svg.getScreenCTM()?.a ?? 1;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < m - 0.25) out.push(`"${t.textContent.slice(0, 20)}" ${px.toFixed(1)} px`);
    }
    return out;
  }, min);
}

for (const size of SIZES) {
  test(`screens at ${size.width}x${size.height}: trial, cortex presentation, reconstruction, evaluation, audience`, async ({ page }) => {
    test.setTimeout(1_200_000);
    const errors = collectPageErrors(page);
    await page.setViewportSize(size);
    await page.goto(`/?bundle=${encodeURIComponent(`/${DEMO}/`)}&gen=wasm`);
    await waitForDecoded(page, 500_000); // the full demo decodes slowly on a loaded 2-core machine
    await expect(page.getByTestId('cortex-panel')).toHaveAttribute('data-ready', 'true', { timeout: 300_000 });
    await shot(page, 'trial');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);

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
    await expect(page.getByTestId('rc-ep')).toBeVisible({ timeout: 400_000 });
    await page.getByTestId('rc-candidates').fill('4');
    await page.getByTestId('rc-run').click();
    await expect(rc.getByTestId('rc-result')).toBeVisible({ timeout: 600_000 });
    await shot(page, 'reconstruction');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await overflowingImages(rc)).toEqual([]);

    // Evaluation of that reconstruction.
    await page.getByRole('tab', { name: 'Evaluation' }).click();
    const ev = page.getByTestId('evaluate-panel');
    await expect(page.getByTestId('eval-status')).toHaveAttribute('data-status', /done|error/, { timeout: 400_000 });
    await shot(page, 'evaluation');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await overflowingImages(ev)).toEqual([]);
    expect(await smallChartText(ev.locator('.eval-charts'))).toEqual([]);

    await page.getByRole('tab', { name: 'Audience 2AFC' }).click();
    await expect(page.getByTestId('audience-setup')).toBeVisible();
    await shot(page, 'audience');
    expect(errors).toEqual([]);
  });
}

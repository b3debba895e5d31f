// Issue 17's screen polish, on the small SIMULATED reconstruction bundle (src/core/simulate/miniBundle.ts,
// .cache/test-bundles/recon-demo/, built in seconds): the Reconstruction and Evaluation screens use the
// page's themed controls (no native white buttons, selects or "Choose file" widgets); the run's
// progress bar names its stage and percent; no REFERENCE citation or doubled "(simulated)" label;
// both halves of "Compare vision vs imagery" are evaluated (not only the imagery one), with this
// bundle's point on the scatter, both bars, no "± –"; the whole stimulus set is reconstructed and
// evaluated from the Evaluation screen (progress, ratio beside MIRAGE Table 1); the audience 2AFC
// starts in one click from those reconstructions and exports CSV and JSON; the subject list says why
// NSD subjects 3, 4, 6 and 8 are missing.
import { expect, test, type Locator, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { collectPageErrors } from './helpers/page.ts';
import { RECON_BUNDLE, useReconBundle } from './helpers/reconBundle.ts';
import { clippedSvgText, nativeLookingControls } from './helpers/screenChecks.ts';

const DIR = RECON_BUNDLE;
const url = (q: string) => `/?bundle=${encodeURIComponent(`/${DIR}/`)}&gen=wasm&${q}`;

useReconBundle();

/** Opens the page on one screen (a tab) of the test bundle; its panel is shown, page errors are collected from here on. */
async function openScreen(page: Page, tab: 'reconstruct' | 'evaluate'): Promise<{ errors: string[]; panel: Locator }> {
  const errors = collectPageErrors(page);
  await page.goto(url(`tab=${tab}`));
  const panel = page.getByTestId(`${tab}-panel`);
  await expect(panel).toBeVisible({ timeout: 240_000 });
  return { errors, panel };
}

async function openTab(page: Page, name: 'Reconstruction' | 'Evaluation' | 'Trial & decoding') {
  await page.getByRole('tab', { name }).click();
}

test('Reconstruction and Evaluation: themed controls, labelled progress, both halves of a comparison evaluated', async ({ page }) => {
  test.setTimeout(900_000);
  const { errors, panel } = await openScreen(page, 'reconstruct');
  await expect(page.getByTestId('rc-ep')).toBeVisible({ timeout: 400_000 });

  // Why subjects are missing is said where subjects are chosen.
  await expect(page.getByTestId('subject-note')).toContainText('3, 4, 6, 8');
  await expect(page.getByTestId('subject-note')).toContainText('tuning');

  // No citation of the internal reference file, no doubled label.
  const text = await panel.innerText();
  expect(text).not.toMatch(/REFERENCE/);
  expect(text).not.toMatch(/\(simulated\)[^\n]*\(simulated\)|simulated world\) \(simulated/i);
  expect(await nativeLookingControls(panel)).toEqual([]);

  // The run's progress bar names the stage and the percent while it runs.
  await page.getByTestId('rc-candidates').fill('4');
  await page.getByTestId('rc-compare-run').click({ timeout: 180_000 }); // a loaded 2-core machine can keep the page busy for a while
  const bar = page.getByTestId('rc-progress');
  await expect(bar).toContainText(/(lowLevel|enhance|latentEncode|prior|decoder|pixels|retrieval|caption) \d+\/\d+ \(stage \d of \d\)/, { timeout: 300_000 });
  await expect(bar).toContainText(/\d+%/);
  const labelColour = await bar.locator('.ctl-progress__label').evaluate((e) => getComputedStyle(e).color);
  expect(labelColour).toBe('rgb(232, 237, 243)'); // the theme's text colour on the dark track
  const compare = page.getByTestId('rc-compare');
  await expect(compare.getByTestId('rc-result')).toHaveCount(2, { timeout: 600_000 });
  await expect(page.getByTestId('rc-run')).toBeEnabled({ timeout: 60_000 });
  expect(await nativeLookingControls(panel)).toEqual([]);

  // Evaluation counts both reconstructions, draws this bundle's point and both bars.
  await openTab(page, 'Evaluation');
  const evalPanel = page.getByTestId('evaluate-panel');
  const status = page.getByTestId('eval-status');
  await expect(status).toHaveAttribute('data-status', /done|error/, { timeout: 400_000 });
  await expect(status).toContainText('Evaluated 2 reconstructions');
  const scatter = page.getByTestId('scatter-scatter-pixcorr');
  await expect(scatter.locator('g.pt path')).toHaveCount(1);
  await expect(scatter.locator('[data-testid=scatter-bundle-legend]')).toHaveText('this bundle (SIMULATED)');
  const bars = page.getByTestId('bar-bars-pixcorr');
  await expect(bars.locator('rect[fill="#5fb3ff"]')).toHaveCount(await bars.locator('rect[fill="#ffb454"]').count());
  expect(await bars.locator('rect[fill="#5fb3ff"]').count()).toBeGreaterThan(0);
  await expect(bars.locator('text[data-condition=vision]')).toHaveText('vision');
  // polled: the charts redraw when the evaluation settles (a measurement mid-redraw saw a moving label)
  await expect.poll(() => clippedSvgText(bars), { timeout: 20_000 }).toEqual([]);
  await expect.poll(() => clippedSvgText(scatter), { timeout: 20_000 }).toEqual([]);
  // one sample per cell: said, not "± –"
  const table = evalPanel.locator('.eval-table').first();
  await expect(table).toContainText('n = 1, no SE');
  expect(await evalPanel.innerText()).not.toContain('± –');
  // the ratio beside MIRAGE's
  await expect(page.getByTestId('eval-ratio-bundle')).toContainText('imagery ÷ vision');
  expect(await nativeLookingControls(evalPanel)).toEqual([]);
  expect(errors).toEqual([]);
});

test('Evaluation reconstructs the whole stimulus set; the audience 2AFC starts from it in one click and exports', async ({ page }) => {
  test.setTimeout(1_200_000);
  const { errors } = await openScreen(page, 'evaluate');
  const run = page.getByTestId('eval-set-run');
  await expect(run).toContainText(/Reconstruct all (\d+) stimuli of subject 1/);
  const stimuli = Number(/all (\d+) stimuli/.exec(await run.innerText())![1]);
  expect(stimuli).toBeGreaterThanOrEqual(12);
  await run.click();
  const progress = page.getByTestId('eval-set-progress');
  await expect(progress).toContainText(/Reconstructing \d+\/\d+: stimulus \d+, (vision|imagery)/, { timeout: 300_000 });
  await expect(progress).toContainText(/\d+%/);
  await expect(page.getByTestId('eval-set')).toHaveAttribute('data-status', 'done', { timeout: 1_000_000 });
  await expect(page.getByTestId('eval-set')).toContainText(`${2 * stimuli} of ${2 * stimuli} reconstructions made`);
  const status = page.getByTestId('eval-status');
  await expect(status).toContainText(`Evaluated ${2 * stimuli} reconstructions`, { timeout: 400_000 });
  await expect(page.getByTestId('scatter-scatter-pixcorr').locator('g.pt path')).toHaveCount(1);
  // bars with standard errors now (n = stimuli per condition)
  await expect(page.getByTestId('bar-bars-pixcorr').locator('line.err').first()).toBeAttached();
  const ratio = page.getByTestId('eval-ratio-bundle');
  await expect(ratio).toContainText(/imagery ÷ vision\s*\d+\.\d\d/);

  // Audience: one click from this session's reconstructions.
  await page.getByRole('tab', { name: 'Audience 2AFC' }).click();
  const start = page.getByTestId('aud-start-session');
  await expect(start).toBeEnabled();
  const trials = Number(/\((\d+) trials\)/.exec(await start.innerText())![1]);
  expect(trials).toBeGreaterThan(0);
  await start.click();
  const trial = page.getByTestId('audience-trial');
  await expect(trial).toBeVisible();
  await expect(trial.locator('canvas')).toHaveCount(3); // ground truth + two reconstructions
  for (let i = 0; i < trials; i++) {
    await expect(trial).toContainText(`Trial ${i + 1} / ${trials}`);
    await page.keyboard.press(i % 2 ? 'ArrowLeft' : 'ArrowRight');
  }
  const results = page.getByTestId('audience-results');
  await expect(results).toContainText('Results');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('aud-csv').click()]);
  const lines = (await readFile((await csv.path())!, 'utf8')).trim().split('\n');
  expect(lines[0]).toBe('trial,kind,method,condition,stimulus,left,right,correct_side,choice,correct,ms');
  expect(lines.length).toBe(trials + 1);
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('aud-json').click()]);
  const data = JSON.parse(await readFile((await json.path())!, 'utf8')) as { answers: unknown[]; score: { answered: number }; source: string };
  expect(data.answers).toHaveLength(trials);
  expect(data.source).toContain("this session's reconstructions of subject 1");
  expect(errors).toEqual([]);
});

// The app against the tiny test bundle (written by globalSetup.ts): loading over HTTP, the WebGPU
// backend, decoding, identification, a picked local folder, and errors shown in the page.
import { expect, test } from '@playwright/test';
import { collectPageErrors, waitForDecoded } from './helpers/page.ts';

const TINY = '/.cache/test-bundles/tiny/';

test('opens a bundle by ?bundle=URL and decodes a trial on WebGPU', async ({ page }) => {
  const errors = collectPageErrors(page);
  await page.goto(`/?bundle=${encodeURIComponent(TINY)}`);
  await waitForDecoded(page);
  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-backend', 'webgpu');
  await expect(page.getByTestId('simulated-badge')).toHaveText('SIMULATED');
  await expect(page.getByTestId('head-image')).toBeVisible();
  await expect(page.getByTestId('head-text')).toBeVisible();
  // The tiny bundle's image head inverts its encoding map: the shown trial ranks its stimulus first.
  await expect(page.getByTestId('ident-rank')).toHaveText('1');
  await expect(page.getByTestId('ident-gallery')).toBeVisible();
  expect(errors).toEqual([]);
});

test('the selection lives in the URL and survives a reload', async ({ page }) => {
  await page.goto(`/?bundle=${encodeURIComponent(TINY)}`);
  await waitForDecoded(page);
  await page.getByTestId('condition-imagery').click();
  await page.getByTestId('stimulus-8').click();
  await expect(page).toHaveURL(/cond=imagery/);
  await expect(page).toHaveURL(/stim=8/);
  await page.reload();
  await expect(page.getByTestId('condition-imagery')).toHaveAttribute('aria-checked', 'true');
  await expect(page.getByTestId('stimulus-8')).toHaveClass(/is-active/);
  // Averaging repeats: the slider's value goes into the URL and the header says so.
  await page.getByTestId('repeats').fill('4');
  await expect(page).toHaveURL(/rep=4/);
  await expect(page.getByText('average of 4 repeats')).toBeVisible();
  await waitForDecoded(page);
});

test('opens a local folder picked with "Open folder…"', async ({ page }) => {
  await page.goto(`/?bundle=${encodeURIComponent('/.cache/test-bundles/not-json/')}`);
  await expect(page.getByTestId('error-banner')).toBeVisible();
  await page.getByTestId('folder-input').setInputFiles('.cache/test-bundles/tiny');
  await waitForDecoded(page);
  await expect(page.getByTestId('error-banner')).toHaveCount(0);
  await expect(page.locator('.topbar__bundle-name')).toHaveText('tiny test bundle');
});

for (const [name, expected] of [
  ['bad-manifest', /stimuli\[3\]\.set/],
  ['truncated-shard', /subj01\/betas\.bin.*(size|bytes)/],
  ['not-json', /manifest\.json/],
  ['does-not-exist', /manifest\.json/],
] as const) {
  test(`a corrupt bundle (${name}) shows its error in the page`, async ({ page }) => {
    await page.goto(`/?bundle=${encodeURIComponent(`/.cache/test-bundles/${name}/`)}`);
    const banner = page.getByTestId('error-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('Error while opening the bundle');
    await expect(banner).toContainText(expected);
    await expect(page.getByText('The bundle could not be opened')).toBeVisible();
  });
}

// The app against the tiny test bundle (written by globalSetup.ts): loading over HTTP, the WebGPU
// backend, decoding, identification, a picked local folder, the selection in the URL, and errors
// shown in the page. The first three share one page so the backend starts once (SwiftShader is slow).
import { expect, test, type Page } from '@playwright/test';
import { collectPageErrors, waitForDecoded } from './helpers/page.ts';

const TINY = '/.cache/test-bundles/tiny/';

test.describe('tiny bundle', () => {
  test.describe.configure({ mode: 'serial' });
  let page: Page;
  let errors: string[];

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    errors = collectPageErrors(page);
  });
  test.afterAll(async () => {
    await page.close();
  });

  test('opens a bundle by ?bundle=URL and decodes a trial on WebGPU', async () => {
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

  test('opens a local folder picked with "Open folder…"', async () => {
    await page.getByTestId('folder-input').setInputFiles('.cache/test-bundles/tiny');
    await expect(page.locator('.topbar__bundle-where')).toHaveText(/tiny/);
    await expect(page.locator('.topbar__bundle-where')).not.toHaveText(/http/);
    await waitForDecoded(page);
    await expect(page.getByTestId('error-banner')).toHaveCount(0);
    await expect(page.locator('.topbar__bundle-name')).toHaveText('tiny test bundle');
  });

  test('keeps the selection in the URL, averages repeats, and restores it after a reload', async () => {
    await page.getByTestId('condition-imagery').click();
    await page.getByTestId('stimulus-8').click();
    await expect(page).toHaveURL(/cond=imagery/);
    await expect(page).toHaveURL(/stim=8/);
    await page.getByTestId('repeats').fill('4');
    await expect(page).toHaveURL(/rep=4/);
    await expect(page.getByText('average of 4 repeats')).toBeVisible();
    await waitForDecoded(page);
    await page.reload();
    await expect(page.getByTestId('condition-imagery')).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByTestId('stimulus-8')).toHaveClass(/is-active/);
    await expect(page.getByText('average of 4 repeats')).toBeVisible();
    expect(errors).toEqual([]);
  });
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

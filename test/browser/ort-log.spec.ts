// "WebGPU, every stage": onnxruntime's own log lines (node placement warnings when a session is
// created on WebGPU) used to reach the console as errors with raw terminal colour codes. They now go
// to the Reconstruction panel's diagnostics ("onnxruntime log"), and the console stays clean.
// Data: the mini reconstruction bundle + demo model pack (.cache/test-bundles/recon-demo).
import { expect, test } from '@playwright/test';
import { RECON_BUNDLE, useReconBundle } from './helpers/reconBundle.ts';

const DIR = RECON_BUNDLE;

useReconBundle();

test('a WebGPU reconstruction logs onnxruntime notes in the panel, none on the console', async ({ page }) => {
  test.setTimeout(900_000);
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`${m.type()}: ${m.text()}`);
  });
  await page.goto(`/?bundle=${encodeURIComponent(`/${DIR}/`)}&subj=1&stim=1&cond=vision&tab=reconstruct&gen=webgpu`);
  await expect(page.getByTestId('rc-ep')).toHaveText(/^WebGPU/, { timeout: 400_000 });
  await page.getByTestId('rc-candidates').fill('2');
  await page.getByTestId('rc-run').click();
  const result = page.getByTestId('rc-result');
  const error = page.locator('.rc-error');
  await expect(result.or(error).first()).toBeVisible({ timeout: 600_000 });
  if (await error.isVisible()) throw new Error(`the panel shows an error: ${await error.innerText()}`);

  // ORT's lines are in the panel, cleaned of colour codes.
  const log = page.getByTestId('ort-log');
  await expect(log).toBeVisible();
  await log.locator('summary').click();
  const text = await log.innerText();
  console.log(`onnxruntime log in the panel:\n${text}`);
  expect(text).toMatch(/warning/);
  expect(text).not.toContain('\u001b[');
  // ...and not on the console (neither as errors with colour codes nor at all).
  expect(consoleLines.filter((l) => l.includes('\u001b[') || /onnxruntime:/.test(l))).toEqual([]);
});

// The cortex panel on a small simulated demo: select V1, silence it, and check that the image
// head's change computed by the worker's factored path equals the CPU reference recomputed in the
// test from the worker's inputs (decode's predictHead on x and x + dx), and that the re-decoded low-level image changes.
// The head changes run on tfjs WebGPU (SwiftShader here, badged "CPU emulation"). Then "Reconstruct
// perturbed state": the unperturbed and the perturbed full reconstructions appear side by side.
// Screenshots the cortex with the overlay, the before/after low-level images and reconstructions.
import { expect, test, type Page } from '@playwright/test';
import { CORTEX_BUNDLE, ensureCortexBundle } from './helpers/cortexBundle.ts';
import { predictHead, type LoadedHead } from '../../src/core/decode/predict.ts';
import type { HeadName } from '../../src/core/bundle/manifest.ts';
import { collectPageErrors } from './helpers/page.ts';

const DIR = CORTEX_BUNDLE;

/**
 * The CPU reference of a head's change for the panel's current stack, computed here in the test
 * (decode's predictHead on x and x + dx) from the worker's inputs, against the worker's factored
 * change. The page ships no code for this: it only hands over the worker's reply.
 */
async function cpuReference(page: Page, head: HeadName) {
  const r = await page.evaluate(async (h) => {
    const ref = await window.mirageCortex!.client().reference(h);
    const arr = (a: Float32Array) => Array.from(a);
    return { ...ref, backend: ref.backend.name, x0: arr(ref.x0), x1: arr(ref.x1), A: arr(ref.A), B: arr(ref.B), intercept: arr(ref.intercept), factored: arr(ref.factored) };
  }, head);
  const spec = { name: head, rank: r.rank, outputShape: r.outputShape, inputNorm: r.inputNorm, outputNorm: r.outputNorm } as LoadedHead['spec'];
  const loaded: LoadedHead = { spec, A: Float32Array.from(r.A), B: Float32Array.from(r.B), intercept: Float32Array.from(r.intercept) };
  const y0 = predictHead(loaded, Float32Array.from(r.x0), 1);
  const y1 = predictHead(loaded, Float32Array.from(r.x1), 1);
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  for (let j = 0; j < y0.length; j++) {
    const want = y1[j] - y0[j];
    maxAbsRef = Math.max(maxAbsRef, Math.abs(want));
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(want - r.factored[j]));
  }
  return { maxAbsDiff, maxAbsRef, n: y0.length, backend: r.backend };
}

test.beforeAll(async () => {
  test.setTimeout(600_000);
  await ensureCortexBundle();
});

test('select V1, silence it: the image-head change equals the CPU reference; screenshot', async ({ page }) => {
  // SwiftShader WebGL + WebGPU and two workers on a small CPU: generous time.
  test.setTimeout(1_500_000);
  const errors = collectPageErrors(page);
  // gen=webgpu: the perturbed reconstruction (16 candidates) on WebGPU even on SwiftShader
  await page.goto(`/?bundle=${encodeURIComponent(`/${DIR}/`)}&shape=inflated&gen=webgpu`);
  const panel = page.getByTestId('cortex-panel');
  await expect(panel).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });

  await page.getByTestId('cortex-roi-V1').click();
  await expect(page).toHaveURL(/roi=V1/);
  await page.getByTestId('cortex-kind').selectOption('gain');
  await page.getByTestId('cortex-gain').fill('0');
  await page.getByTestId('cortex-apply').click();
  await expect(page.getByTestId('cortex-stack')).toContainText('silence V1');
  await expect(page).toHaveURL(/pert=/);
  await expect
    .poll(async () => page.evaluate(() => window.mirageCortex?.update()?.changedVoxels ?? 0), { timeout: 300_000 })
    .toBeGreaterThan(0);

  // The interactive path runs on WebGPU (SwiftShader: CPU emulation), and the badge says so.
  const badge = page.getByTestId('cortex-backend');
  await expect(badge).toHaveAttribute('data-backend', 'webgpu');
  await expect(badge).toHaveAttribute('data-software', 'true');
  await expect(badge).toContainText('CPU emulation');
  const ref = await cpuReference(page, 'image');
  expect(ref.backend).toBe('webgpu');
  expect(ref.n).toBeGreaterThan(0);
  expect(ref.maxAbsRef).toBeGreaterThan(0);
  expect(ref.maxAbsDiff).toBeLessThanOrEqual(1e-5 * Math.max(1, ref.maxAbsRef));

  const image = await page.evaluate(() => window.mirageCortex!.update()!.heads.find((h) => h.head === 'image')!.relNorm);
  expect(image).toBeGreaterThan(0);
  await expect(page.getByTestId('cortex-cosines')).toBeVisible();
  await expect(page.getByTestId('cortex-lesion')).toBeVisible();

  // The low-level image re-decoded: silencing V1 changes the blurry head, so "after" differs from "before".
  await expect(page.getByTestId('cortex-lowlevel-after')).toBeVisible({ timeout: 120_000 });
  const low = await page.evaluate(() => {
    const l = window.mirageCortex!.update()!.lowLevel;
    if (!l.available) return { reason: l.reason, diff: -1, n: 0 };
    let diff = 0;
    for (let i = 0; i < l.after.data.length; i++) diff += Math.abs(l.after.data[i] - l.before.data[i]);
    return { reason: '', diff, n: l.after.data.length };
  });
  expect(low.reason).toBe('');
  expect(low.n).toBe(64 * 64 * 3);
  expect(low.diff).toBeGreaterThan(0);
  await expect(page.getByTestId('cortex-lowlevel')).toContainText('simulated');
  await page.getByTestId('cortex-lowlevel').screenshot({ path: 'test-results/cortex-lowlevel.png' });

  // Show the perturbation itself on the surface, then screenshot.
  await page.getByTestId('cortex-overlay').selectOption('perturbation');
  await page.waitForTimeout(5000);
  await panel.screenshot({ path: 'test-results/cortex-panel.png' });
  await page.getByTestId('cortex-overlay').selectOption('betas');
  await page.getByTestId('cortex-view').evaluate((el) => el.scrollIntoView({ block: 'center' }));
  await page.waitForTimeout(5000);
  await page.getByTestId('cortex-view').screenshot({ path: 'test-results/cortex-betas.png' });

  // Full reconstruction from the perturbed state: both images, each with its caption.
  await page.getByTestId('cortex-recon-run').click();
  await expect(page.getByTestId('cortex-recon-progress')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('cortex-recon-after-img')).toBeVisible({ timeout: 800_000 });
  await expect(page.getByTestId('cortex-recon-before-img')).toBeVisible();
  await expect(page.getByTestId('cortex-recon-before-caption')).not.toHaveText('“”');
  await expect(page.getByTestId('cortex-recon-after-caption')).not.toHaveText('“”');
  await expect(page.getByTestId('cortex-recon-note')).toContainText('silence V1');
  const recon = await page.evaluate(() => {
    const read = (id: string) => {
      const c = document.querySelector(`[data-testid=${id}]`) as HTMLCanvasElement;
      return { w: c.width, data: Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data) };
    };
    const a = read('cortex-recon-before-img');
    const b = read('cortex-recon-after-img');
    let diff = 0;
    for (let i = 0; i < Math.min(a.data.length, b.data.length); i++) diff += Math.abs(a.data[i] - b.data[i]);
    return { w: a.w, diff };
  });
  expect(recon.w).toBeGreaterThan(0);
  // Silencing V1 changes the decoded heads, so the chosen candidate's retrieval score (computed by the
  // WebGPU step graphs) must move; identical results here once meant the step graphs had failed
  // validation (test/unit/generate/stepGraphsWebgpuLimits.test.ts). The pixels may stay identical:
  // the demo generator's mixture prior snaps to a scene of the simulated world (docs/simulation.md
  // §12), and a small perturbation can keep the same scene.
  const captions = [await page.getByTestId('cortex-recon-before-caption').innerText(), await page.getByTestId('cortex-recon-after-caption').innerText()];
  const scores = [
    Number(await page.getByTestId('cortex-recon-before').getAttribute('data-score')),
    Number(await page.getByTestId('cortex-recon-after').getAttribute('data-score')),
  ];
  console.log(`perturbed reconstruction: pixel L1 difference ${recon.diff}; captions ${captions.join(' -> ')}; best score ${scores.join(' -> ')}`);
  expect(scores.every(Number.isFinite)).toBe(true);
  expect(scores[1]).not.toBe(scores[0]);
  await page.getByTestId('cortex-recon').evaluate((el) => el.scrollIntoView({ block: 'center' }));
  await page.getByTestId('cortex-recon').screenshot({ path: 'test-results/cortex-recon.png' });

  // Undo and reset.
  await page.getByTestId('cortex-undo').click();
  await expect(page.getByTestId('cortex-stack')).toContainText('No perturbation', { timeout: 120_000 });
  // The generate worker (not the cortex's) moves a stage to wasm when a WebGPU kernel fails and
  // onnxruntime logs that failure (and warns about node placement on session creation); the reply
  // records it in stageFallbacks. Anything else is an error.
  expect(errors.filter((e) => !/\[E:onnxruntime:.*Failed to run JSEP kernel|\[W:onnxruntime:/.test(e))).toEqual([]);
});

// The app against the demo bundle (public/demo, built by `mirage demo`; scripts/test.mjs builds it
// when missing): it opens by default, decodes on WebGPU, and the decoded image embeddings of the
// simple stimuli's vision trials identify their stimulus better than chance.
import { expect, test } from '@playwright/test';
import { chanceBound, collectPageErrors, identifySimpleVisionTrials, waitForDecoded } from './helpers/page.ts';

test('opens the demo, decodes on WebGPU and identifies simple vision trials above chance', async ({ page }, testInfo) => {
  const errors = collectPageErrors(page);
  await page.goto('/');
  await waitForDecoded(page);

  await expect(page.getByTestId('backend-badge')).toHaveAttribute('data-backend', 'webgpu');
  await expect(page.getByTestId('simulated-badge')).toHaveText('SIMULATED');
  const manifest = await page.evaluate(() => {
    const m = window.mirage!.bundle.getState().manifest!;
    return { name: m.name, kind: m.provenance.kind, heads: m.subjects.find((s) => s.role === 'decoded')!.heads.map((h) => h.name) };
  });
  expect(manifest.kind).toBe('simulated');
  for (const head of manifest.heads) await expect(page.getByTestId(`head-${head}`)).toBeVisible();
  await expect(page.getByTestId('ident-stimuli')).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/demo-trial-vision.png', fullPage: true });

  const summary = await identifySimpleVisionTrials(page);
  expect(summary.backend).toBe('webgpu');
  expect(summary.candidates).toBe(18);
  expect(summary.ranks.length).toBeGreaterThanOrEqual(6);
  const mean = summary.ranks.reduce((a, r) => a + r.rank, 0) / summary.ranks.length;
  const { chance, bound } = chanceBound(summary.candidates, summary.ranks.length);
  await testInfo.attach('identification.json', {
    body: JSON.stringify({ ...summary, meanRank: mean, chance, bound }, null, 1),
    contentType: 'application/json',
  });
  console.log(`identification, simple stimuli, vision, subject ${summary.subject}: mean rank ${mean.toFixed(2)} of ${summary.candidates} over ${summary.ranks.length} trials (chance ${chance}, must be < ${bound.toFixed(2)})`);
  expect(mean).toBeLessThan(bound);

  // An imagery trial of a complex stimulus, averaged over repeats, for the second screenshot.
  await page.getByTestId('condition-imagery').click();
  const complex = await page.evaluate(() => window.mirage!.bundle.getState().manifest!.stimuli.find((s) => s.set === 'complex')!.id);
  await page.getByTestId(`stimulus-${complex}`).click();
  await page.getByTestId('repeats').fill('8');
  await expect(page.getByText('average of 8 repeats')).toBeVisible();
  await waitForDecoded(page);
  await page.screenshot({ path: 'test-results/screenshots/demo-trial-imagery.png', fullPage: true });

  // MIRAGE's prediction normalisation: the page names the batch it normalised over, and the decoded
  // image embedding (and so identification) is the normalised one, not the raw output.
  const imageRow = () =>
    page.evaluate(() => {
      const c = window.mirage!.decode.getState().current!;
      return { key: c.key, values: Array.from(c.response.predictions.image!.values), norm: c.response.normalization ?? null };
    });
  const raw = await imageRow();
  expect(raw.norm).toBeNull();
  await page.getByTestId('normalize').check();
  const note = page.getByTestId('normalization-batch');
  await expect(note).toBeVisible();
  await expect(note).toContainText(/normalised over 18 stimuli × imagery, subject \d+, repeats averaged/);
  await expect(note).toContainText('target mean/std from training');
  await expect(page.getByTestId('normalization-missing')).toHaveCount(0);
  await waitForDecoded(page);
  expect(new URL(page.url()).searchParams.get('norm')).toBe('1');
  const normed = await imageRow();
  expect(normed.key).not.toBe(raw.key);
  expect(normed.norm!.stimuli).toHaveLength(18);
  expect(normed.norm!.stimuli).toContain(complex);
  expect(normed.values).toHaveLength(raw.values.length);
  const maxDiff = Math.max(...normed.values.map((v, i) => Math.abs(v - raw.values[i])));
  expect(maxDiff).toBeGreaterThan(1e-3);
  await expect(page.getByTestId('ident-stimuli')).toBeVisible();
  await page.screenshot({ path: 'test-results/screenshots/demo-trial-normalised.png', fullPage: true });
  // Off again: back to the raw decode of the selected trials.
  await page.getByTestId('normalize').uncheck();
  await expect(note).toHaveCount(0);
  await waitForDecoded(page);
  expect(errors).toEqual([]);
});

// README "Giving a talk": after a first visit, the bundle's shards come from Cache Storage. A second
// page of the same browser profile, with every shard request of the bundle refused (only
// manifest.json is served), still decodes the trial and identifies it (the tiny test bundle).
test('a second visit decodes with every shard request refused (shards from Cache Storage)', async ({ page, context }) => {
  test.setTimeout(600_000);
  const TINY = '/.cache/test-bundles/tiny/';
  const url = `/?bundle=${encodeURIComponent(TINY)}`;
  await page.goto(url);
  await waitForDecoded(page);
  await expect(page.getByTestId('ident-stimuli')).toBeVisible();
  await page.close();

  const second = await context.newPage();
  const errors = collectPageErrors(second);
  const refused: string[] = [];
  await second.route(`**${TINY}**`, (route) => {
    const u = route.request().url();
    if (u.endsWith('/manifest.json')) return route.continue();
    refused.push(u);
    return route.abort('internetdisconnected');
  });
  await second.goto(url);
  await waitForDecoded(second);
  await expect(second.getByTestId('ident-stimuli')).toBeVisible();
  expect(refused).toEqual([]);
  expect(errors).toEqual([]);
});

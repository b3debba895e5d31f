// The Evaluation tab against the demo bundle: the demo (public/demo, built by `mirage demo`) has no
// reconstructions, so beforeAll makes a copy of it under .cache/test-bundles/eval-demo/ with two
// reconstruction sets of subject 1 (degraded stimulus images, labelled as test data). The dashboard
// evaluates them in workers/evaluate.worker.ts (PixCorr, SSIM, demo-encoder identification, brain
// correlation with the simulation's ground-truth model), draws them beside MIRAGE Table 1, exports
// the rows as CSV, and a screenshot is kept (test-results/evaluate.png).
import { expect, test } from '@playwright/test';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../src/core/bundle/manifest.ts';
import { csvToRows } from '../../src/core/evaluate/tables.ts';
import { DEMO_METRIC_LABEL } from '../../src/core/evaluate/demoMetricPack.ts';
import { collectPageErrors } from './helpers/page.ts';
import { buildStandInEncodingPack } from '../../src/core/evaluate/encodingPack.ts';

const DEMO = 'public/demo';
const DIR = '.cache/test-bundles/eval-demo';
const ENC_DIR = '.cache/test-bundles/eval-demo-encoding';
const REPS = 2;
const METHODS = [
  { name: 'test: blurred stimuli', degrade: (px: Uint8Array, s: number, cond: string, rep: number) => blur(px, s, cond === 'vision' ? 2 : 6, rep) },
  { name: 'test: noisy stimuli', degrade: (px: Uint8Array, _s: number, cond: string, rep: number) => noisy(px, cond === 'vision' ? 0.35 : 0.75, rep) },
];

function blur(px: Uint8Array, s: number, k: number, rep: number): Uint8Array {
  const out = new Uint8Array(px.length);
  for (let y = 0; y < s; y++)
    for (let x = 0; x < s; x++)
      for (let c = 0; c < 3; c++) {
        let a = 0;
        let n = 0;
        for (let dy = -k; dy <= k; dy++)
          for (let dx = -k; dx <= k; dx++) {
            a += px[(Math.min(s - 1, Math.max(0, y + dy)) * s + Math.min(s - 1, Math.max(0, x + dx))) * 3 + c];
            n++;
          }
        out[(y * s + x) * 3 + c] = Math.min(255, Math.round(a / n) + ((rep * 37 + x * y) % 5));
      }
  return out;
}

function noisy(px: Uint8Array, amount: number, rep: number): Uint8Array {
  let h = 2166136261 ^ rep;
  return px.map((v) => {
    h = Math.imul(h ^ (h >>> 13), 16777619) >>> 0;
    return Math.round((1 - amount) * v + amount * (h & 255));
  });
}

/** Copy of the demo plus a reconstructions shard (rebuilt when the demo is newer). */
async function writeEvalBundle(): Promise<void> {
  const demoTime = (await stat(join(DEMO, 'manifest.json'))).mtimeMs;
  const have = await stat(join(DIR, 'manifest.json')).catch(() => null);
  if (have && have.mtimeMs > demoTime) return;
  await rm(DIR, { recursive: true, force: true });
  await mkdir(DIR, { recursive: true });
  await cp(DEMO, DIR, { recursive: true });
  const m = JSON.parse(await readFile(join(DEMO, 'manifest.json'), 'utf8')) as Manifest;
  const S = m.imageSize;
  const shardPath = 'recons/test.bin';
  const parts: Uint8Array[] = [];
  const sets: NonNullable<Manifest['reconstructions']> = [];
  const stimuli = m.stimuli.filter((s) => s.image);
  const shard = await readFile(join(DEMO, stimuli[0].image!.shard));
  let offset = 0;
  for (const method of METHODS) {
    for (const condition of ['vision', 'imagery'] as const) {
      const data = new Uint8Array(stimuli.length * REPS * S * S * 3);
      stimuli.forEach((st, i) => {
        const px = new Uint8Array(shard.buffer, shard.byteOffset + st.image!.offset, S * S * 3);
        for (let r = 0; r < REPS; r++) data.set(method.degrade(px, S, condition, r), (i * REPS + r) * S * S * 3);
      });
      sets.push({ method: method.name, subject: 1, condition, stimuli: stimuli.map((s) => s.id), images: { shard: shardPath, offset, dtype: 'uint8', shape: [stimuli.length, REPS, S, S, 3] }, source: 'test/browser/evaluate.spec.ts (degraded stimulus images, not a decoder)' });
      parts.push(data);
      offset += data.length;
    }
  }
  const bytes = new Uint8Array(offset);
  let o = 0;
  for (const p of parts) bytes.set(p, (o += p.length) - p.length);
  await mkdir(join(DIR, 'recons'), { recursive: true });
  await writeFile(join(DIR, shardPath), bytes);
  m.shards.push({ path: shardPath, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  m.reconstructions = sets;
  m.name = `${m.name} + test reconstructions`;
  await writeFile(join(DIR, 'manifest.json.tmp'), JSON.stringify(m));
  await cp(join(DIR, 'manifest.json.tmp'), join(DIR, 'manifest.json'));
  await rm(join(DIR, 'manifest.json.tmp'));
}

/** The eval bundle plus a stand-in encoding-model pack for subject 1 in encoding/subj01/. */
async function writeEncodingBundle(): Promise<void> {
  await rm(ENC_DIR, { recursive: true, force: true });
  await cp(DIR, ENC_DIR, { recursive: true });
  const m = JSON.parse(await readFile(join(DIR, 'manifest.json'), 'utf8')) as Manifest;
  const voxelCount = m.subjects.find((s) => s.id === 1)!.voxelCount;
  const dir = join(ENC_DIR, 'encoding', 'subj01');
  await mkdir(dir, { recursive: true });
  await buildStandInEncodingPack({ write: (p: string, b: Uint8Array) => writeFile(join(dir, p), b) }, { subject: 1, voxelCount, rois: 'bundle', command: 'test/browser/evaluate.spec.ts' });
}

test.beforeAll(async () => {
  test.setTimeout(300_000);
  await writeEvalBundle();
  await writeEncodingBundle();
});

/** Label boxes of a scatter that overlap each other (should be none). */
async function overlappingLabels(scatter: import('@playwright/test').Locator): Promise<string[]> {
  return scatter.evaluate((svg) => {
    const boxes = [...svg.querySelectorAll('g.labels text')].map((t) => ({ name: t.textContent ?? '', b: (t as SVGTextElement).getBBox() }));
    const out: string[] = [];
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].b;
        const b = boxes[j].b;
        if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) out.push(`${boxes[i].name} / ${boxes[j].name}`);
      }
    return out;
  });
}

test('evaluates the bundle\'s reconstructions in a worker and shows them beside MIRAGE Table 1', async ({ page }) => {
  test.setTimeout(600_000);
  const errors = collectPageErrors(page);
  await page.goto(`/?bundle=${encodeURIComponent(`/${DIR}/`)}&tab=evaluate`);
  const panel = page.getByTestId('evaluate-panel');
  await expect(panel).toBeVisible({ timeout: 180_000 });
  const status = page.getByTestId('eval-status');
  await expect(status).toHaveAttribute('data-status', /running|done/, { timeout: 120_000 });
  // not 'cancelled': an auto-run restarted by a store update cancels the first run on its way
  await expect(status).toHaveAttribute('data-status', /done|error/, { timeout: 400_000 });
  if ((await status.getAttribute('data-status')) !== 'done') throw new Error(`evaluation did not finish: ${await status.innerText()}`);
  const n = 2 * METHODS.length * REPS * 12;
  await expect(status).toContainText(`Evaluated ${n} reconstructions`);

  // Sources are labelled; the notes say what the CLIP and brain columns are.
  await expect(panel.getByText('this bundle (SIMULATED)').first()).toBeVisible();
  const notes = page.getByTestId('eval-notes');
  await expect(notes).toContainText(DEMO_METRIC_LABEL);
  await expect(notes).toContainText("ground-truth encoding model");

  // The scatter: the 8 published methods (circles) and this bundle's 2 methods (diamonds).
  const scatter = page.getByTestId('scatter-scatter-pixcorr');
  await expect(scatter.locator('g.pt circle')).toHaveCount(8);
  await expect(scatter.locator('g.pt path')).toHaveCount(METHODS.length);
  await expect(scatter).toContainText('published, real NSD-Imagery');
  await expect(scatter).toContainText('this bundle (SIMULATED)');
  await expect(page.getByTestId('bar-bars-pixcorr').locator('rect').first()).toBeVisible();
  // every method is labelled, published grey / this bundle green, and no two labels overlap
  await expect(scatter.locator('g.labels text[data-source="published"]')).toHaveCount(8);
  await expect(scatter.locator('g.labels text[data-source="bundle"]')).toHaveCount(METHODS.length);
  expect(await overlappingLabels(scatter)).toEqual([]);

  // Export every row as CSV and read it back.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'all rows CSV' }).click()]);
  const rows = csvToRows(await readFile((await download.path())!, 'utf8'), 'results.csv');
  expect(rows.length).toBe(n);
  expect(new Set(rows.map((r) => r.method))).toEqual(new Set(METHODS.map((x) => x.name)));
  for (const r of rows) {
    expect(r.metrics.pixcorr).toBeGreaterThan(0);
    expect(r.metrics.ssim).toBeGreaterThan(0);
    expect(r.metrics.clip).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.metrics.brain_all)).toBe(true);
  }
  const mean = (c: string, k: 'pixcorr' | 'clip' | 'brain_all') => {
    const xs = rows.filter((r) => r.method === METHODS[0].name && r.condition === c).map((r) => r.metrics[k]!);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  // Blurring more (imagery) scores lower than blurring less (vision); identification beats chance.
  expect(mean('vision', 'pixcorr')).toBeGreaterThan(mean('imagery', 'pixcorr'));
  expect(mean('vision', 'clip')).toBeGreaterThan(0.5);
  expect(mean('vision', 'brain_all')).toBeGreaterThan(0);

  await page.getByRole('combobox').first().selectOption('clip');
  await expect(page.getByTestId('scatter-scatter-clip').locator('g.pt path')).toHaveCount(METHODS.length);
  expect(await overlappingLabels(page.getByTestId('scatter-scatter-clip'))).toEqual([]);
  await page.getByRole('combobox').first().selectOption('ssim');
  expect(await overlappingLabels(page.getByTestId('scatter-scatter-ssim'))).toEqual([]);
  await page.getByTestId('scatter-scatter-ssim').screenshot({ path: test.info().outputPath('scatter-ssim.png') });
  await page.getByRole('combobox').first().selectOption('pixcorr');
  await scatter.screenshot({ path: test.info().outputPath('scatter-pixcorr.png') });
  await page.screenshot({ path: test.info().outputPath('evaluate.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('uses an encoding-model pack shipped with the bundle for the brain-correlation columns', async ({ page }) => {
  test.setTimeout(600_000);
  const errors = collectPageErrors(page);
  await page.goto(`/?bundle=${encodeURIComponent(`/${ENC_DIR}/`)}&tab=evaluate`);
  const status = page.getByTestId('eval-status');
  // not 'cancelled': an auto-run restarted by a store update cancels the first run on its way
  await expect(status).toHaveAttribute('data-status', /done|error/, { timeout: 400_000 });
  if ((await status.getAttribute('data-status')) !== 'done') throw new Error(`evaluation did not finish: ${await status.innerText()}`);
  const notes = page.getByTestId('eval-notes');
  await expect(notes).toContainText('encoding-model pack "stand-in encoding pack" (subject 1)');
  await expect(notes).toContainText('not the real encoding model');
  await expect(notes).not.toContainText('needs an encoding-model pack');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'all rows CSV' }).click()]);
  const rows = csvToRows(await readFile((await download.path())!, 'utf8'), 'results.csv');
  expect(rows.length).toBe(2 * METHODS.length * REPS * 12);
  for (const r of rows) for (const k of ['brain_early', 'brain_higher', 'brain_all'] as const) expect(Number.isFinite(r.metrics[k])).toBe(true);
  expect(errors).toEqual([]);
});

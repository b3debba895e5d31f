// A composite model pack in the page (helpers/compositePack.ts: the demo pack with its low-level
// decoder and image encoder taken from reduced VDVAE and CLIP stage packs with external-data
// weights). The load shows byte progress per file and can be cancelled and resumed; the panel names
// the pack, its parts, each stage's precision and where it runs; the reconstruction runs on it and
// carries that provenance; a reload reads every pack file from Cache Storage (no request).
import { expect, test, type Page } from '@playwright/test';
import { COMPOSITE_DIR, COMPOSITE_NAME, ensureCompositePack } from './helpers/compositePack.ts';
import { quickReconSettings, RECON_BUNDLE } from './helpers/reconBundle.ts';

test.beforeAll(async () => {
  test.setTimeout(600_000);
  await ensureCompositePack();
});

const PACK_URL = `/${COMPOSITE_DIR}/modelpack/`;
const url = (extra = '') => `/?bundle=${encodeURIComponent(`/${RECON_BUNDLE}/`)}&pack=${encodeURIComponent(PACK_URL)}&subj=1&stim=1&cond=vision&tab=reconstruct&gen=wasm${extra}`;

/** Requests for pack files (graphs, weights, tensors): the manifests are not counted (they always come from the server). */
function recordPackRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (/\/(composite|recon-demo\/modelpack)\//.test(u.pathname) && !u.pathname.endsWith('/modelpack.json')) seen.push(u.pathname);
  });
  return seen;
}

test('a composite pack loads with per-file progress, cancel and resume; the panel names its parts, precision and placement; a reload makes no pack request', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const requests = recordPackRequests(page);

  // Hold the CLIP weights back so the load is visibly in progress, then cancel it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/composite/clip/models/*.bin', async (route) => {
    await held;
    await route.continue().catch(() => {});
  });
  await page.goto(url('&prec=float16'));
  const load = page.getByTestId('rc-load');
  await expect(page.getByTestId('rc-load-file')).toContainText(/file \d+ of \d+: .+ — .+ of .+/, { timeout: 400_000 });
  await expect(page.getByTestId('rc-load-total')).toContainText(/model pack — .+ of .+/);
  await page.getByTestId('rc-load-cancel').click();
  await expect(page.getByTestId('rc-load-cancelled')).toBeVisible();
  await expect(load).toHaveCount(0);
  release();
  await page.unroute('**/composite/clip/models/*.bin');

  await page.getByTestId('rc-load-retry').click();
  const details = page.getByTestId('rc-pack');
  await expect(details).toBeVisible({ timeout: 400_000 });
  await expect(page.getByTestId('rc-pack-name')).toHaveText(COMPOSITE_NAME);
  await expect(page.getByTestId('rc-pack-parts')).toContainText(/lowLevelDecoder from VDVAE \(reduced\).*imageEncoder from CLIP ViT \(reduced\)/);
  const enc = page.getByTestId('rc-stage-imageEncoder');
  await expect(enc).toHaveAttribute('data-precision', 'float16'); // ?prec=float16: the CLIP pack's float16 build
  await expect(enc).toHaveAttribute('data-placement', 'wasm');
  await expect(page.getByTestId('rc-stage-lowLevelDecoder')).toHaveAttribute('data-precision', 'float32'); // no float16 build in that pack
  await expect(page.getByTestId('rc-stage-priorDenoiser')).toContainText('demo model pack');
  // only the float16 CLIP build was read
  expect(requests.filter((p) => p.includes('/composite/clip/')).every((p) => p.includes('.f16'))).toBe(true);
  expect(requests.some((p) => p.includes('/composite/vdvae/models/') && p.endsWith('.bin'))).toBe(true);

  // The pipeline runs on the composite; the reply says which pack and build made it.
  const reply = await page.evaluate(
    async ({ settings }) => {
      const load = new Function('u', 'return import(u)') as (u: string) => Promise<typeof import('../../src/app/reconstruct/client.ts')>;
      const client = await load('/src/app/reconstruct/client.ts');
      const r = await client.runReconstruction({ subject: 1, stimulus: 1, condition: 'vision', settings });
      return { pack: r.modelPack, candidates: r.candidates.length, low: r.lowLevel?.width ?? 0 };
    },
    { settings: quickReconSettings({ candidates: 2, seed: 1, priorSteps: 2, decoderSteps: 1, captionMaxTokens: 3 }) },
  );
  expect(reply.pack.name).toBe(COMPOSITE_NAME);
  expect(reply.pack.stages.imageEncoder).toEqual({ pack: 'CLIP ViT (reduced) (clip-reduced)', precision: 'float16', placement: 'wasm' });
  expect(reply.pack.stages.lowLevelDecoder.pack).toBe('VDVAE (reduced) (vdvae-reduced)');
  expect(reply.candidates).toBe(2);
  expect(reply.low).toBe(8); // the reduced VDVAE's 8x8 output

  // A reload: every pack file comes from Cache Storage.
  requests.length = 0;
  await page.reload();
  await expect(page.getByTestId('rc-pack-name')).toHaveText(COMPOSITE_NAME, { timeout: 400_000 });
  expect(requests).toEqual([]);
  expect(errors).toEqual([]);
});

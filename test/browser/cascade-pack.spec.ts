// Stable Cascade in the page (issue 15): a reduced lite pack made by the real packer
// (helpers/cascadePack.ts: EfficientNet, stage C in 4 parts, stage B in 4 parts, stage A) opened as a
// composite on top of the demo pack, through the page's own loading path (openModelPack over HTTP,
// as the generate worker does), on WebGPU (SwiftShader here: correctness, not speed) and on wasm.
//   1. Each stage, fed the same seeded inputs on both backends, equals what Node's onnxruntime
//      computes from the same pack (runStage; Node's numbers are held to the public reference in
//      test/unit/packs/cascade*.test.ts): wasm within 1e-5 and WebGPU within 1e-3 of the output's
//      largest magnitude. No stage may fall back to wasm on the WebGPU run, and every hand-off
//      between parts of stages C and B must stay a GPU buffer (no download between parts).
//   2. The Reconstruction screen names the pack, the variant (lite), the precision, the parts and
//      where each stage runs; a reconstruction runs the same pipeline, sampler and step graphs on
//      every stage of it on WebGPU (no fallback) and on wasm, and both give the same retrieval scores.
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';
import { mulberry32 } from '../../src/core/base/rng.ts';
import type { StageName } from '../../src/core/generate/modelPack.ts';
import { runStage } from '../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import type { NpyArray } from '../../src/core/tensor/npy.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { openIsolatedBlankPage } from './helpers/page.ts';
import { CASCADE_COMPOSITE_NAME, CASCADE_DIR, CASCADE_LABEL, ensureCascadePack } from './helpers/cascadePack.ts';
import { quickReconSettings, RECON_BUNDLE } from './helpers/reconBundle.ts';

const STAGES = ['latentEncoder', 'priorDenoiser', 'latentDecoder', 'pixelDecoder'] as const satisfies readonly StageName[];
type CascadeStage = (typeof STAGES)[number];
const OUTPUT: Record<CascadeStage, string> = { latentEncoder: 'latents', priorDenoiser: 'pred', latentDecoder: 'pred', pixelDecoder: 'images' };
const BATCH = 2;
const PACK_URL = `/${CASCADE_DIR}/modelpack/`;
const PACK_NAME = `Stable Cascade lite (${CASCADE_LABEL})`;

interface StageCase {
  inputs: Record<string, { data: number[]; shape: number[] }>;
  ref: number[];
}
const cases = {} as Record<CascadeStage, StageCase>;

/** Seeded inputs for a stage's roles at batch 2 (r in (0.1, 0.9), the rest standard-normal-ish), and Node's outputs on them. */
test.beforeAll(async () => {
  test.setTimeout(600_000);
  await ensureCascadePack();
  const src = new FsShardSource(join(CASCADE_DIR, 'cascade'));
  let seed = 100;
  for (const stage of STAGES) {
    const loaded = await loadPackStage(src, stage);
    const inputs: StageCase['inputs'] = {};
    const npy: Record<string, NpyArray> = {};
    for (const [role, spec] of Object.entries(loaded.spec.inputs)) {
      const shape = spec.shape.map((d) => (typeof d === 'number' ? d : BATCH));
      const u = mulberry32(seed++);
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, () => (role === 'r' ? 0.1 + 0.8 * u() : (u() + u() + u() - 1.5) * 2));
      inputs[role] = { data: Array.from(data), shape };
      npy[role] = { dtype: '<f4', shape, data, fortranOrder: false };
    }
    const out = await runStage(loaded, npy);
    cases[stage] = { inputs, ref: Array.from(out.outputs[OUTPUT[stage]].data as Float32Array) };
  }
});

function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const maxAbs = (a: readonly number[]) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('each cascade stage on WebGPU and on wasm equals Node; stages C and B run as chains whose hand-offs stay on the GPU', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openIsolatedBlankPage(page, 'cascade', 'cascade');
  expect(await page.evaluate(() => !!(navigator as Navigator & { gpu?: unknown }).gpu)).toBe(true);

  const runs = await page.evaluate(
    async ({ packUrl, stages, outputs, cases }) => {
      // paths in variables: Vite serves the TypeScript modules; tsc must not resolve them as files
      const m = { runtime: '/src/core/onnx/runtime.ts', http: '/src/core/bundle/httpSource.ts', open: '/src/core/generate/packOpen.ts', sessions: '/src/core/generate/sessions.ts' };
      const { ort } = (await import(/* @vite-ignore */ m.runtime)) as typeof import('../../src/core/onnx/runtime.ts');
      const { HttpShardSource } = (await import(/* @vite-ignore */ m.http)) as typeof import('../../src/core/bundle/httpSource.ts');
      const { openModelPack } = (await import(/* @vite-ignore */ m.open)) as typeof import('../../src/core/generate/packOpen.ts');
      const { PackSessions } = (await import(/* @vite-ignore */ m.sessions)) as typeof import('../../src/core/generate/sessions.ts');
      ort.env.wasm.wasmPaths = new URL('/wasm/', location.origin).href; // as the generate worker sets it
      ort.env.logLevel = 'error';
      const out: Record<string, { onGpu: Record<string, boolean>; fallbacks: Record<string, string>; parts: Record<string, number>; handoffs: Record<string, { part: number; name: string; location: string }[]>; outputs: Record<string, number[]>; ms: Record<string, number> }> = {};
      for (const ep of ['wasm', 'webgpu']) {
        const pack = await openModelPack(new HttpShardSource(new URL(packUrl, location.origin).href, { cache: false }), { onWebgpu: () => ep === 'webgpu' });
        const sessions = new PackSessions(pack, { executionProviders: [ep] });
        const r = { onGpu: {} as Record<string, boolean>, fallbacks: {} as Record<string, string>, parts: {} as Record<string, number>, handoffs: {} as Record<string, { part: number; name: string; location: string }[]>, outputs: {} as Record<string, number[]>, ms: {} as Record<string, number> };
        for (const stage of stages) {
          const feeds = Object.fromEntries(Object.entries(cases[stage].inputs).map(([role, a]) => [role, { data: Float32Array.from(a.data), bind: { batch: a.shape[0] } }]));
          const t0 = performance.now();
          const res = await sessions.run(stage, feeds, [outputs[stage]]);
          r.ms[stage] = performance.now() - t0;
          r.outputs[stage] = Array.from(res[outputs[stage]].data);
          r.onGpu[stage] = sessions.onGpu(stage);
          r.parts[stage] = pack.parts?.[stage]?.length ?? 1;
          r.handoffs[stage] = sessions.partOutputs.get(stage) ?? [];
        }
        r.fallbacks = Object.fromEntries(sessions.fallbacks);
        await sessions.dispose();
        out[ep] = r;
      }
      return out;
    },
    { packUrl: PACK_URL, stages: [...STAGES], outputs: OUTPUT, cases },
  );

  for (const ep of ['wasm', 'webgpu'] as const) {
    const r = runs[ep];
    expect(r.fallbacks, `${ep}: no stage may fall back`).toEqual({});
    expect(r.parts.priorDenoiser).toBeGreaterThanOrEqual(2);
    expect(r.parts.latentDecoder).toBeGreaterThanOrEqual(2);
    for (const stage of STAGES) {
      expect(r.onGpu[stage], `${ep}: ${stage} placement`).toBe(ep === 'webgpu');
      const ref = cases[stage].ref;
      const err = maxAbsDiff(r.outputs[stage], ref) / maxAbs(ref);
      console.log(`${ep} ${stage}: max |out - Node| / max |Node| = ${err.toExponential(2)} (${r.parts[stage]} part(s), ${r.ms[stage].toFixed(0)} ms)`);
      expect(maxAbs(ref)).toBeGreaterThan(0);
      expect(err, `${ep} ${stage} vs Node`).toBeLessThan(ep === 'wasm' ? 1e-5 : 1e-3);
    }
    // The chains: every part's outputs were seen, and under WebGPU every hand-off (all but the
    // stage's own output, which sessions.run reads back) stayed a GPU buffer.
    for (const stage of ['priorDenoiser', 'latentDecoder'] as const) {
      const h = r.handoffs[stage];
      expect(new Set(h.map((x) => x.part)).size, `${ep} ${stage}: every part ran`).toBe(r.parts[stage]);
      const between = h.filter((x) => x.part < r.parts[stage] - 1);
      expect(between.length).toBeGreaterThan(0);
      for (const x of between) expect(`${x.name}: ${x.location}`).toBe(`${x.name}: ${ep === 'webgpu' ? 'gpu-buffer' : 'cpu'}`);
    }
  }
  expect(errors).toEqual([]);
});

const appUrl = (gen: 'webgpu' | 'wasm') => `/?bundle=${encodeURIComponent(`/${RECON_BUNDLE}/`)}&pack=${encodeURIComponent(PACK_URL)}&subj=1&stim=1&cond=vision&tab=reconstruct&gen=${gen}`;

/** Opens the app on the composite and runs one short reconstruction through the page's client. */
async function reconstructIn(page: Page, gen: 'webgpu' | 'wasm') {
  await page.goto(appUrl(gen));
  await expect(page.getByTestId('rc-pack-name')).toHaveText(CASCADE_COMPOSITE_NAME, { timeout: 400_000 });
  return page.evaluate(
    async ({ settings }) => {
      const load = new Function('u', 'return import(u)') as (u: string) => Promise<typeof import('../../src/app/reconstruct/client.ts')>;
      const client = await load('/src/app/reconstruct/client.ts');
      const r = await client.runReconstruction({ subject: 1, stimulus: 1, condition: 'vision', settings });
      return { ep: r.executionProvider, pack: r.modelPack, fallbacks: r.stageFallbacks, candidates: r.candidates.map((c) => c.width), scores: r.scores };
    },
    { settings: quickReconSettings({ candidates: 2, seed: 3, priorSteps: 2, decoderSteps: 2, captionMaxTokens: 2 }) },
  );
}

test('the Reconstruction screen names the cascade pack, variant, precision, parts and placement; a reconstruction runs on it on WebGPU and on wasm alike', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const gpu = await reconstructIn(page, 'webgpu');

  await expect(page.getByTestId('rc-pack-parts')).toContainText(/latentEncoder from Stable Cascade lite .*priorDenoiser from Stable Cascade lite .*latentDecoder from Stable Cascade lite .*pixelDecoder from Stable Cascade lite/);
  for (const stage of STAGES) {
    const row = page.getByTestId(`rc-stage-${stage}`);
    await expect(row).toContainText(PACK_NAME); // the name says the variant: lite
    await expect(row).toHaveAttribute('data-precision', 'float32'); // SwiftShader has no shader-f16; the pack has float32 only
    await expect(row).toHaveAttribute('data-placement', 'webgpu');
    await expect(row).toContainText('WebGPU');
  }
  for (const stage of ['priorDenoiser', 'latentDecoder']) {
    await expect(page.getByTestId(`rc-stage-${stage}`)).toHaveAttribute('data-parts', '4');
    await expect(page.getByTestId(`rc-stage-${stage}`)).toContainText('4 parts run back to back');
  }
  await expect(page.getByTestId('rc-pack-unconditional')).toContainText('not computed (zeros)');

  expect(gpu.ep).toBe('webgpu');
  expect(gpu.fallbacks).toEqual({});
  expect(gpu.pack.name).toBe(CASCADE_COMPOSITE_NAME);
  for (const stage of STAGES) expect(gpu.pack.stages[stage]).toEqual({ pack: PACK_NAME, precision: 'float32', placement: 'webgpu' });
  expect(gpu.candidates).toEqual([64, 64]); // stage A's 64 px from stage B's 16x16 latent

  const cpu = await reconstructIn(page, 'wasm');
  await expect(page.getByTestId('rc-stage-priorDenoiser')).toHaveAttribute('data-placement', 'wasm');
  expect(cpu.ep).toBe('wasm');
  for (const stage of STAGES) expect(cpu.pack.stages[stage].placement).toBe('wasm');
  // The same seed through the same pipeline: the candidates' retrieval scores agree.
  expect(maxAbsDiff(gpu.scores, cpu.scores)).toBeLessThan(1e-3);
  expect(errors).toEqual([]);
});

// GPU residency of the generation chain (issue 3) in headless Chromium, WebGPU on SwiftShader (a CPU
// emulation: this proves placement and numbers, never speed). The demo model pack of the recon test
// bundle reconstructs one trial three ways in the page:
//   A. WebGPU sessions, sampler "graphs" (the step graphs; what the generate worker now runs),
//   B. WebGPU sessions, sampler "typescript" (the previous behaviour: every output comes to the CPU),
//   C. wasm sessions, sampler "typescript" (the reference numbers).
// Asserted: in A the latents never come down between steps (counted by the pipeline's Transfers:
// no download of the denoisers' predictions or of x, and the only downloads are the low-level
// image, the candidates' pixels, one score per candidate and the caption's last-position logits,
// plus the inputs of any stage that had to run on wasm); A equals C within float32 tolerance.
// The counts of A and B are logged as the before/after numbers (docs/model-packs.md).
import { expect, test } from '@playwright/test';
import { openIsolatedBlankPage } from './helpers/page.ts';
import { RECON_BUNDLE, useReconBundle } from './helpers/reconBundle.ts';

const DIR = RECON_BUNDLE;

useReconBundle();

interface Count {
  uploads: number;
  uploadBytes: number;
  downloads: number;
  downloadBytes: number;
}
interface RunSummary {
  sampler: string;
  transfers: Count & { gpuHandoffs: number; stepGraphRuns: number; byLabel: Record<string, Count> };
  scores: number[];
  best: number;
  captionTokens: number[];
  pixels: number[][];
  low: number[];
  timings: Record<string, number>;
  stepMs: { prior: number; decoder: number };
  fallbacks: Record<string, string>;
}

test('the latents stay on the GPU between steps; WebGPU result = wasm result', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // Not part of what is tested: the dev server's live-reload socket, and onnxruntime's own log
    // lines (node placement notes; the Conv kernels of the stages that move to wasm, listed in the
    // annotation's fallbacks). A failing run throws into page.evaluate.
    if (m.type() === 'error' && !/WebSocket|\[vite\]|onnxruntime/.test(m.text())) errors.push(m.text());
  });
  await openIsolatedBlankPage(page, 'gpu_resident', 'gpu residency');
  expect(await page.evaluate(() => !!(navigator as Navigator & { gpu?: unknown }).gpu)).toBe(true);

  const runs = await page.evaluate(async (packUrl: string) => {
    // paths in variables: Vite serves the TypeScript modules; tsc must not resolve them as files
    const m = {
      runtime: '/src/core/onnx/runtime.ts',
      http: '/src/core/bundle/httpSource.ts',
      pack: '/src/core/generate/modelPack.ts',
      sessions: '/src/core/generate/sessions.ts',
      pipeline: '/src/core/generate/pipeline.ts',
      rng: '/src/core/base/rng.ts',
    };
    const { ort } = (await import(/* @vite-ignore */ m.runtime)) as typeof import('../../src/core/onnx/runtime.ts');
    const { HttpShardSource } = (await import(/* @vite-ignore */ m.http)) as typeof import('../../src/core/bundle/httpSource.ts');
    const { loadModelPack } = (await import(/* @vite-ignore */ m.pack)) as typeof import('../../src/core/generate/modelPack.ts');
    const { PackSessions } = (await import(/* @vite-ignore */ m.sessions)) as typeof import('../../src/core/generate/sessions.ts');
    const { reconstruct } = (await import(/* @vite-ignore */ m.pipeline)) as typeof import('../../src/core/generate/pipeline.ts');
    const { NoiseRng } = (await import(/* @vite-ignore */ m.rng)) as typeof import('../../src/core/base/rng.ts');
    // as workers/generate.worker.ts configures it
    ort.env.wasm.wasmPaths = new URL('/wasm/', location.origin).href;
    ort.env.logLevel = 'error';
    const pack = await loadModelPack(new HttpShardSource(new URL(packUrl, location.origin).href, { cache: false }));
    const rng = new NoiseRng(4);
    const v = (s: number[]) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const h = pack.manifest.headShapes;
    const heads = { image: v(h.image), text: v(h.text), blurry: v(h.blurry), retrieval: v(h.retrieval), prompt: v(h.prompt) };
    const settings = { candidates: 3, seed: 2, captionMaxTokens: 6 };
    const gpu = new PackSessions(pack, { executionProviders: ['webgpu'] });
    const wasm = new PackSessions(pack, { executionProviders: ['wasm'] });
    const summary = async (sessions: InstanceType<typeof PackSessions>, sampler: 'graphs' | 'typescript') => {
      // a first run creates every session (and settles which stages fall back to wasm)
      await reconstruct(sessions, heads, settings, { sampler });
      const stepAt: Record<string, number[]> = { prior: [], decoder: [] };
      const r = await reconstruct(sessions, heads, settings, {
        sampler,
        onProgress: (p) => {
          if (p.stage === 'prior' || p.stage === 'decoder') stepAt[p.stage].push(performance.now());
        },
      });
      const perStep = (ts: number[]) => (ts.length > 2 ? (ts[ts.length - 1] - ts[0]) / (ts.length - 1) : NaN);
      return {
        sampler: r.sampler,
        transfers: r.transfers,
        scores: r.scores,
        best: r.best,
        captionTokens: r.captionTokens,
        pixels: r.candidates.map((c) => Array.from(c.data)),
        low: Array.from(r.lowLevel!.data),
        timings: r.timings,
        stepMs: { prior: perStep(stepAt.prior), decoder: perStep(stepAt.decoder) },
        fallbacks: Object.fromEntries(sessions.fallbacks),
      };
    };
    const A = await summary(gpu, 'graphs');
    const B = await summary(gpu, 'typescript');
    const C = await summary(wasm, 'typescript');
    await gpu.dispose();
    await wasm.dispose();
    return { A, B, C };
  }, `/${DIR}/modelpack/`);

  const { A, B, C } = runs as { A: RunSummary; B: RunSummary; C: RunSummary };
  const show = (name: string, r: RunSummary) => {
    const t = r.transfers;
    const labels = Object.entries(t.byLabel)
      .map(([k, c]) => `${k} ${c.uploads}↑${c.uploadBytes}B ${c.downloads}↓${c.downloadBytes}B`)
      .join('; ');
    return `${name} (${r.sampler}): uploads ${t.uploads} (${t.uploadBytes} B), downloads ${t.downloads} (${t.downloadBytes} B), GPU hand-offs ${t.gpuHandoffs}, step-graph runs ${t.stepGraphRuns}; per step prior ${r.stepMs.prior.toFixed(1)} ms, decoder ${r.stepMs.decoder.toFixed(1)} ms; fallbacks ${JSON.stringify(r.fallbacks)}\n   ${labels}`;
  };
  const description = [show('A webgpu', A), show('B webgpu', B), show('C wasm', C)].join('\n');
  console.log(description);
  test.info().annotations.push({ type: 'transfers', description });

  // A: the denoisers' predictions and x never come down between steps, where the stage runs on WebGPU.
  expect(A.sampler).toBe('graphs');
  const fellBack = new Set(Object.keys(A.fallbacks));
  const downloaded = Object.entries(A.transfers.byLabel).filter(([, c]) => c.downloads > 0).map(([k]) => k);
  const allowed = new Set(['lowLevelDecoder/px', 'pixelDecoder/images', 'retrieval/score', 'captionDecoder/last_logits']);
  const unexpected = downloaded.filter((k) => !allowed.has(k) && !fellBack.has(k.split('/')[0]) && !/^step:/.test(k));
  expect(unexpected).toEqual([]);
  for (const stage of ['priorDenoiser', 'latentDecoder'] as const) {
    if (fellBack.has(stage)) continue;
    expect(A.transfers.byLabel[`${stage}/pred`]?.downloads ?? 0).toBe(0);
  }
  // step-graph inputs come down only when their producer ran on wasm (mixed placement)
  if (!fellBack.has('priorDenoiser') && !fellBack.has('latentDecoder')) {
    expect(downloaded.filter((k) => /^step:ddpm/.test(k))).toEqual([]);
    // every step hands [x; x] and the prediction over on the device: 2 per step at least
    expect(A.transfers.gpuHandoffs).toBeGreaterThanOrEqual(2 * (14 + 10));
  }
  // B (the TypeScript sampler on WebGPU) brings every prediction down: the "before" numbers
  expect(B.transfers.byLabel['priorDenoiser/pred']?.downloads ?? 0).toBe(fellBack.has('priorDenoiser') ? 0 : 14);
  expect(A.transfers.downloadBytes).toBeLessThan(B.transfers.downloadBytes);
  // C (wasm) crosses nothing
  expect(C.transfers.uploads + C.transfers.downloads).toBe(0);

  // Same low-level image; pixels within a uint8 step or two; same scores to 1e-4; same caption.
  // A vs B isolates the step graphs (same WebGPU denoiser kernels, other sampler arithmetic); A vs C
  // adds the WebGPU-vs-wasm kernel differences (~1e-6 relative, more pixels on a 1/255 boundary).
  const pixelDiff = (x: RunSummary, y: RunSummary) => {
    let max = 0;
    let differing = 0;
    let total = 0;
    x.pixels.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) {
        const d = Math.abs(p[i] - y.pixels[k][i]);
        max = Math.max(max, d);
        if (d) differing++;
      }
      total += p.length;
    });
    return { max, fraction: differing / total };
  };
  const ab = pixelDiff(A, B);
  const ac = pixelDiff(A, C);
  const bc = pixelDiff(B, C);
  console.log(`pixels: A vs B max ${ab.max} (${(ab.fraction * 100).toFixed(2)} % differ), A vs C max ${ac.max} (${(ac.fraction * 100).toFixed(2)} %), B vs C max ${bc.max} (${(bc.fraction * 100).toFixed(2)} %); scores A ${A.scores.join(', ')} / B ${B.scores.join(', ')} / C ${C.scores.join(', ')}`);
  for (const r of [A, B]) expect(r.low).toEqual(C.low);
  expect(ab.max).toBeLessThanOrEqual(1);
  expect(ab.fraction).toBeLessThan(0.01);
  expect(ac.max).toBeLessThanOrEqual(2);
  expect(ac.fraction).toBeLessThan(0.1);
  for (let k = 0; k < C.scores.length; k++) {
    expect(Math.abs(A.scores[k] - B.scores[k])).toBeLessThan(1e-4);
    expect(Math.abs(A.scores[k] - C.scores[k])).toBeLessThan(1e-4);
  }
  expect(A.best).toBe(C.best);
  expect(A.captionTokens).toEqual(C.captionTokens);
  expect(errors).toEqual([]);
});

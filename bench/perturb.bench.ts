// Slider-to-update latency of the cortex perturbation path at NSD scale (15724 voxels; MIRAGE's
// heads at their real output sizes and browser-bundle ranks: image 768 r64, text 77x1280 r256,
// blurry/low-level 91168 r256), per backend, factored (dx_R·A_R)·B vs the full recomputation
// decode(x+dx) on the same backend in the same run, plus the low-level image (blurry change ->
// VDVAE-signature stand-in decoder). Node: js, tfjs cpu, tfjs wasm (decoder on ORT wasm). Headless
// Chromium: tfjs WebGPU (SwiftShader on a machine without a GPU: CPU emulation, recorded as such),
// wasm and js. Random weights: speed does not depend on values. Loop: bench/perturbBenchCore.ts.
import { join } from 'node:path';
import type { WebgpuAdapterInfo } from '../src/core/decode/backend.ts';
import type { BenchContext } from './lib.ts';
import { REPO_DIR, devServerWasmPaths, runBenchPage, CHROMIUM } from './lib-browser.ts';
import { PERTURB_HEADS, REGION_VOXELS, runPerturbBench, type PerturbRow } from './perturbBenchCore.ts';

interface PageResult {
  rows: PerturbRow[];
  adapter: WebgpuAdapterInfo | null;
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const reps = ctx.quick ? 5 : 30;
  const node = await runPerturbBench({
    env: 'node',
    backends: ['js', 'cpu', 'wasm'],
    decoderProvider: () => 'wasm',
    reps,
    wasmPaths: join(REPO_DIR, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'),
    log: ctx.log,
  });
  // Keep the Node numbers even if the browser part fails.
  let browser: (PageResult & { browserVersion: string }) | { error: string };
  try {
    const r = await runBenchPage<PageResult>(
      'perturb',
      { reps: String(ctx.quick ? 4 : 15), softwareReps: String(ctx.quick ? 2 : 4), wasm: devServerWasmPaths(), ort: `/@fs${join(REPO_DIR, 'node_modules/onnxruntime-web/dist')}/` },
      { timeoutMs: 25 * 60_000, log: ctx.log },
    );
    browser = { ...r.result, browserVersion: r.browserVersion };
  } catch (e) {
    browser = { error: e instanceof Error ? e.message : String(e) };
    ctx.log(`chromium run failed: ${browser.error}`);
  }
  const rows = [...node, ...('rows' in browser ? browser.rows : [])];
  await ctx.writeResult('perturb', {
    description:
      'slider-to-update latency of a region gain change (1500-voxel region of 15724) per head: factored (dx_R·A_R)·B through LinearChangeEngine.changeOn (the cortex worker path) vs full recomputation decode(x+dx) on the same backend in the same run; "lowlevel" = blurry head change + the VDVAE-signature stand-in decoder (ORT). Random weights at MIRAGE output sizes. Chromium WebGPU is SwiftShader (CPU emulation) on a machine without a GPU: correctness, not GPU speed.',
    voxels: 15724,
    regionVoxels: REGION_VOXELS,
    heads: PERTURB_HEADS,
    reps,
    chromium: 'error' in browser ? { error: browser.error, executable: CHROMIUM } : { executable: CHROMIUM, version: browser.browserVersion, adapter: browser.adapter, userAgent: browser.userAgent, crossOriginIsolated: browser.crossOriginIsolated, hardwareConcurrency: browser.hardwareConcurrency },
    rows,
  });
}

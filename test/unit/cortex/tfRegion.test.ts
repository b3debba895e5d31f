// The interactive path on tfjs (cpu and wasm in Node; WebGPU in the browser spec): the region
// products (dx_R·A_R)·B on the device, finished exactly by the engine, equal the full
// recomputation decode(x + dx) − decode(x) to float32 tolerance, for every head kind (plain,
// per-token L2 output, L2 input) and for a stack that changes the region between updates.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinearChangeEngine } from '../../../src/core/cortex/engine.ts';
import { PerturbationStack, type Perturbation, type PerturbContext } from '../../../src/core/cortex/perturb.ts';
import { RoiSet } from '../../../src/core/cortex/roi.ts';
import { startRegionProduct } from '../../../src/core/cortex/tfRegion.ts';
import { fullDecode, makeHead, maxAbs, maxAbsDiff, randn, rng } from './helpers.ts';

const WASM = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
const NVOX = 400;

function world() {
  const r = rng(11);
  const heads = [
    makeHead('image', NVOX, 12, [48], r),
    makeHead('text', NVOX, 8, [6, 20], r, { outputNorm: 'l2-token' }),
    makeHead('retrieval', NVOX, 6, [4, 16], r, { inputNorm: 'l2', outputNorm: 'l2-token' }),
  ];
  const rois = new RoiSet(NVOX, [
    { name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: Array.from({ length: 70 }, (_, i) => 3 * i) },
    { name: 'higher', color: '#0000ff', group: 'higher', source: 'bundle', voxels: Array.from({ length: 90 }, (_, i) => 300 + i) },
  ]);
  const engine = new LinearChangeEngine(heads, NVOX);
  const trials = [randn(NVOX, r), randn(NVOX, r)];
  const ctx: PerturbContext = { rois, engine, trialBetas: (t) => trials[t] };
  return { heads, engine, ctx, x0: trials[0] };
}

const STACKS: Perturbation[][] = [
  [{ kind: 'gain', roi: 'V1', k: 0 }],
  [{ kind: 'gain', roi: 'V1', k: 0.4 }], // same region, new values: the gathered A_R is reused
  [{ kind: 'add', roi: 'higher', value: 0.8 }], // another region: A_R gathered again
  [
    { kind: 'gain', roi: 'V1', k: 2 },
    { kind: 'replace', roi: 'higher', trial: 1 },
  ],
  [], // nothing changed: exactly zero
];

describe('factored change on tfjs backends', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: equals decode(x+dx) − decode(x) for every head and stack`, async () => {
      const { heads, engine, ctx, x0 } = world();
      const { product, info } = await startRegionProduct(heads, [backend], { wasmPaths: WASM });
      expect(info.name).toBe(backend);
      expect(product).not.toBeNull();
      try {
        for (const items of STACKS) {
          engine.setBaseline(x0);
          const res = new PerturbationStack(items).apply(x0, ctx);
          engine.setBaseline(x0);
          for (const h of heads) {
            const ref0 = fullDecode(h, x0);
            const want = fullDecode(h, res.x).map((v, j) => v - ref0[j]);
            const got = (await engine.changeOn(product, h.spec.name, res.total)).delta;
            expect(got.length).toBe(want.length);
            if (!items.length) {
              expect(maxAbs(got)).toBe(0);
              continue;
            }
            expect(maxAbs(want)).toBeGreaterThan(1e-3);
            // float32 accumulation on the device: tolerance relative to the prediction's scale
            expect(maxAbsDiff(got, want)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref0)));
            // and it agrees with the float64 JS engine
            expect(maxAbsDiff(got, engine.change(h.spec.name, res.total).delta)).toBeLessThan(1e-5 * Math.max(1, maxAbs(ref0)));
          }
        }
      } finally {
        product!.dispose();
      }
    });
  }

  it('falls back along the order: no WebGPU in Node, so webgpu -> js is the plain engine, with the reason', async () => {
    const { heads } = world();
    const { product, info } = await startRegionProduct(heads, ['webgpu', 'js']);
    expect(product).toBeNull();
    expect(info.name).toBe('js');
    expect(info.fallbacks[0]).toMatch(/^webgpu: /);
  });
});

// Stable Cascade stage C (`priorDenoiser`) built from a checkpoint with the official key names,
// compared with the public reference implementation (StableCascade modules/stage_c.py) run on the
// same random reduced checkpoint (test/fixtures/packs/README.md, cascade-c-tiny/), float32 and
// bfloat16 files; parameter counts of the published configs from the config alone.
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { buildStageC, STAGE_C_FULL, STAGE_C_LITE, stageCParamCount } from '../../../src/core/generate/packers/cascade/stageC.ts';
import { createSession } from '../../../src/core/onnx/runtime.ts';
import { checkpoint, fixture, npy, stageCInputs, TINY_C } from './cascadeCFixture.ts';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function runWhole(ck: Checkpoint, precision: 'float32' | 'float16' = 'float32', rFile = 'r.npy'): Promise<Float32Array> {
  const parts = [];
  for await (const p of buildStageC(ck, TINY_C, { precision })) parts.push(p);
  expect(parts).toHaveLength(1);
  expect(Object.keys(parts[0].inputs).sort()).toEqual(['clip_img', 'clip_text', 'clip_text_pooled', 'r', 'x']);
  expect(Object.keys(parts[0].outputs)).toEqual(['pred']);
  const s = await createSession(parts[0].graph.toBytes());
  const out = await s.run(await stageCInputs(rFile));
  await s.release();
  return out.pred.data as Float32Array;
}

describe('stage C vs the reference implementation (reduced config)', () => {
  // r enters as sin/cos of r·10000·f (f down to 1e-4): near r ~ 1 the arguments reach 10^4, where
  // one float32 ulp of a frequency (torch computes them with its float32 exp) moves the embedding by
  // ~5e-4 (the reference with float64-exact frequencies differs from itself by 5.1e-4 on this
  // fixture). With small r every argument is below 3 and the whole network must agree to float32
  // rounding; with r from the sampler's range, to that ill-conditioning.
  it('float32 checkpoint: pred equals StageC.forward to float32 rounding (r small)', async () => {
    const ref = await npy('ref_pred_r_small.npy');
    const pred = await runWhole(await checkpoint('stage_c.safetensors'), 'float32', 'r_small.npy');
    expect(maxAbsDiff(pred, ref.data as Float32Array)).toBeLessThan(3e-5);
  });

  it('float32 checkpoint, r in (0, 1): within the r embedding\'s float32 conditioning', async () => {
    const ref = await npy('ref_pred.npy');
    const pred = await runWhole(await checkpoint('stage_c.safetensors'));
    expect(maxAbsDiff(pred, ref.data as Float32Array)).toBeLessThan(1e-3);
  });

  it('bfloat16 checkpoint: pred equals the reference on the bf16 weights (and differs from the float32 one)', async () => {
    const ref16 = await npy('ref_pred_bf16.npy');
    const ref32 = await npy('ref_pred.npy');
    const pred = await runWhole(await checkpoint('stage_c_bf16.safetensors'));
    expect(maxAbsDiff(pred, ref16.data as Float32Array)).toBeLessThan(1e-3);
    expect(maxAbsDiff(pred, ref32.data as Float32Array)).toBeGreaterThan(1e-2);
  });

  it('float16 graph stays within a float16 rounding of the reference', async () => {
    const ref = (await npy('ref_pred.npy')).data as Float32Array;
    const pred = await runWhole(await checkpoint('stage_c.safetensors'), 'float16');
    const top = Math.max(...Array.from(ref, Math.abs));
    expect(maxAbsDiff(pred, ref) / top).toBeLessThan(1e-2);
  });
});

describe('stage C parameter counts (config only, no weights)', () => {
  it('the full and lite configs count what the public StageC instantiates: 3.59 B and 1.03 B', async () => {
    const ref = JSON.parse(new TextDecoder().decode(await fixture('reference_params.json'))) as Record<string, number>;
    expect(stageCParamCount(STAGE_C_FULL)).toBe(ref.stage_c);
    expect(stageCParamCount(STAGE_C_LITE)).toBe(ref.stage_c_lite);
    // The published sizes: "3.6B" and "1B" (Stable Cascade model card).
    expect(Math.round(stageCParamCount(STAGE_C_FULL) / 1e8) / 10).toBe(3.6);
    expect(Math.round(stageCParamCount(STAGE_C_LITE) / 1e9)).toBe(1);
    expect(stageCParamCount(TINY_C)).toBe(190400);
  });
});

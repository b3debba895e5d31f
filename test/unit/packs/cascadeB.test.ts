// Stable Cascade stage B (latentDecoder) built from a checkpoint with the official key names, compared
// with the public reference (StableCascade modules/stage_b.py StageB.forward, pixels left at its zero
// default) run on the same random checkpoint at reduced size (test/fixtures/packs/README.md,
// cascade-b-tiny); whole and cut into parts (split.ts).
import { describe, expect, it } from 'vitest';
import { buildStageB, checkStageBCheckpoint, STAGE_B_FULL, STAGE_B_LITE, stageBParamCount, stageBShapes } from '../../../src/core/generate/packers/cascade/stageB.ts';
import type { StagePartGraph } from '../../../src/core/generate/packers/cascade/pack.ts';
import { partParams, planParts } from '../../../src/core/generate/packers/cascade/split.ts';
import type { NpyArray } from '../../../src/core/tensor/npy.ts';
import { collectParts, fixtureCheckpoint, fixtureDir, fixtureNpy, maxAbs, maxAbsDiff, runGraph, shapesOnly, TINY_B } from './cascadeEFixtures.ts';

const DIR = fixtureDir('cascade-b-tiny');
const TINY = TINY_B;

async function inputs(): Promise<Record<string, NpyArray>> {
  return { x: await fixtureNpy(DIR, 'x.npy'), r: await fixtureNpy(DIR, 'r.npy'), effnet: await fixtureNpy(DIR, 'effnet.npy'), clip: await fixtureNpy(DIR, 'clip.npy') };
}

/** Runs the parts back to back, each fed the stage inputs and earlier parts' outputs it names. */
async function runParts(parts: StagePartGraph[], feed: Record<string, NpyArray>): Promise<Float32Array> {
  const values: Record<string, NpyArray> = { ...feed };
  for (const p of parts) {
    const out = await runGraph(p.graph, Object.fromEntries(Object.keys(p.inputs).map((k) => [k, values[k]])));
    for (const [k, v] of Object.entries(out)) values[k] = { data: v.data, shape: [...v.dims], dtype: '<f4', fortranOrder: false } as NpyArray;
  }
  return values.pred.data as Float32Array;
}

// The reference with its r-embedding frequencies correctly rounded to float32, as our graph stores
// them (torch's vectorised float32 exp is one ulp off on 3 of the 32): the rest must agree tightly.
const REF = 'ref_pred_rounded_freqs.npy';

describe('Stable Cascade stage B vs the reference implementation (reduced config)', () => {
  it.each(['stage_b.safetensors', 'stage_b_bf16.safetensors'])('%s: pred equals StageB(x, r, effnet, clip)', async (file) => {
    const parts = await collectParts(buildStageB(await fixtureCheckpoint(DIR, file), TINY));
    expect(parts).toHaveLength(1);
    expect(Object.keys(parts[0].inputs).sort()).toEqual(['clip', 'effnet', 'r', 'x']);
    const ref = (await fixtureNpy(DIR, REF)).data as Float32Array;
    const out = (await runGraph(parts[0].graph, await inputs())).pred;
    expect(out.dims).toEqual([2, 4, 32, 32]);
    expect(maxAbsDiff(out.data, ref)).toBeLessThan(2e-5 * Math.max(1, maxAbs(ref)));
    // The unmodified reference differs only by those ulps: at r·10^4 ≈ 8500 rad a one-ulp frequency
    // moves a sinusoid by ~5e-4 rad, which this random network passes on at about 1.4e-4 of its range.
    const plain = (await fixtureNpy(DIR, 'ref_pred.npy')).data as Float32Array;
    expect(maxAbsDiff(out.data, plain)).toBeLessThan(2e-4 * maxAbs(plain));
  });

  it('cut into parts under a weight limit, run back to back: the same pred', async () => {
    const ck = await fixtureCheckpoint(DIR, 'stage_b.safetensors');
    const parts = await collectParts(buildStageB(ck, TINY, { maxPartBytes: 60_000 }));
    expect(parts.length).toBeGreaterThan(3);
    // Each part holds at most 15,000 float32 parameters, a repeated block's weights once per part;
    // together at least the whole stage (weights repeated across a cut are stored again).
    expect(parts.every((p) => p.parameters <= 15_000)).toBe(true);
    expect(parts.reduce((a, p) => a + p.parameters, 0)).toBeGreaterThanOrEqual(stageBParamCount(TINY));
    // Every part but the first reads hand-offs; a skip crosses at least one cut.
    expect(parts.slice(1).every((p) => Object.keys(p.inputs).some((k) => k.startsWith('h.')))).toBe(true);
    expect(parts.some((p) => Object.keys(p.inputs).some((k) => k.startsWith('skip_')))).toBe(true);
    const ref = (await fixtureNpy(DIR, REF)).data as Float32Array;
    expect(maxAbsDiff(await runParts(parts, await inputs()), ref)).toBeLessThan(2e-5 * Math.max(1, maxAbs(ref)));
  });

  it('plans a repeated block once per part', () => {
    const units = [{ params: 5, weights: 'up_blocks.0.0' }, { params: 5, weights: 'up_blocks.0.0' }, { params: 5 }];
    expect(planParts(units, 10)).toEqual([[0, 1, 2]]);
    expect(partParams(units)).toBe(10);
    expect(planParts(units.map((u) => ({ params: u.params })), 10)).toEqual([[0, 1], [2]]);
    // A repeat that starts a new part brings its weights again.
    const across = [{ params: 8, weights: 'a' }, { params: 4 }, { params: 8, weights: 'a' }];
    expect(planParts(across, 11)).toEqual([[0], [1], [2]]);
    expect(partParams([across[2]])).toBe(8);
  });

  it('float16 weights and arithmetic stay within 2 % of the output range', async () => {
    const parts = await collectParts(buildStageB(await fixtureCheckpoint(DIR, 'stage_b.safetensors'), TINY, { precision: 'float16' }));
    const ref = (await fixtureNpy(DIR, REF)).data as Float32Array;
    expect(maxAbsDiff((await runGraph(parts[0].graph, await inputs())).pred.data, ref)).toBeLessThan(0.02 * maxAbs(ref));
  });

  it('parameter counts: full 1,562,941,136 (the readme\'s "1.5 billion"), lite 699,471,248 ("700 million")', () => {
    // Counted from StageB(...) with train_b.py's '3B' and '700M' arguments in the reference code.
    expect(stageBParamCount(STAGE_B_FULL)).toBe(1_562_941_136);
    expect(stageBParamCount(STAGE_B_LITE)).toBe(699_471_248);
    expect(stageBParamCount(TINY)).toBe(119_952);
    expect(stageBShapes(STAGE_B_FULL).get('up_upscalers.2.1.weight')).toEqual([640, 320, 2, 2]);
    expect(stageBShapes(STAGE_B_FULL).get('up_blocks.3.0.channelwise.0.weight')).toEqual([1280, 640]);
    expect(stageBShapes(STAGE_B_FULL).get('up_repeat_mappers.0.0.weight')).toEqual([1280, 1280, 1, 1]);
  });

  it('names a missing or misshapen tensor, the other variant, and a stage A / effnet / stage C file', () => {
    const shapes = stageBShapes(TINY);
    const missing = new Map(shapes);
    missing.delete('up_repeat_mappers.3.1.bias');
    expect(() => checkStageBCheckpoint(shapesOnly(missing, 'stage_b.safetensors'), TINY)).toThrow(/stage_b\.safetensors: tensor up_repeat_mappers\.3\.1\.bias: missing tensor \(expected shape \[8\] \(tiny stage B\)\)/);
    const bad = new Map(shapes).set('clip_mapper.weight', [64, 1280]);
    expect(() => checkStageBCheckpoint(shapesOnly(bad, 'stage_b.safetensors'), TINY)).toThrow(/tensor clip_mapper\.weight: shape \[64, 1280\] \(expected \[64, 12\] \(tiny stage B\)\)/);
    expect(() => checkStageBCheckpoint(shapesOnly(stageBShapes(STAGE_B_LITE), 'stage_b_lite_bf16.safetensors'), STAGE_B_FULL)).toThrow(
      /stage_b_lite_bf16\.safetensors: tensor down_downscalers\.\*\.1\.weight: the checkpoint is Stable Cascade stage B lite \(700M\) \(c_hidden \[320, 576, 1152, 1152\]\) \(expected Stable Cascade stage B \(1\.5B\)/,
    );
    const stageC = shapesOnly(new Map([['clip_txt_mapper.weight', [2048, 1280]], ['clip_img_mapper.weight', [8192, 768]], ['embedding.1.weight', [2048, 16, 1, 1]]]), 'stage_c_bf16.safetensors');
    expect(() => checkStageBCheckpoint(stageC, STAGE_B_FULL)).toThrow(/stage_c_bf16\.safetensors: tensor effnet_mapper\.0\.weight: this is a stage C file/);
    const effnet = shapesOnly(new Map([['backbone.0.0.weight', [24, 3, 3, 3]], ['mapper.0.weight', [16, 1280, 1, 1]]]), 'effnet_encoder.safetensors');
    expect(() => checkStageBCheckpoint(effnet, STAGE_B_LITE)).toThrow(/effnet_encoder\.safetensors: .*this is an EfficientNet encoder file/);
  });
});

// Stable Cascade stage A (pixelDecoder) built from a checkpoint with the official key names, compared
// with the public reference (StableCascade modules/stage_a.py StageA.decode, then clamp(0, 1) as
// train_b.py decode_latents does) run on the same random checkpoint at reduced size
// (test/fixtures/packs/README.md, cascade-a-tiny).
import { describe, expect, it } from 'vitest';
import { buildStageA, checkStageACheckpoint, STAGE_A, stageADecoderShapes, stageAGraph, stageAHalo, stageAParamCount, stageAPeakBytes, stageAStrips } from '../../../src/core/generate/packers/cascade/stageA.ts';
import { collectParts, fixtureCheckpoint, fixtureDir, fixtureNpy, maxAbsDiff, runGraph, shapesOnly, TINY_A } from './cascadeEFixtures.ts';

const DIR = fixtureDir('cascade-a-tiny');
const TINY = TINY_A;

describe('Stable Cascade stage A decoder vs the reference implementation (reduced config)', () => {
  it.each(['stage_a.safetensors', 'stage_a_bf16.safetensors'])('%s: images equal StageA.decode(latents).clamp(0, 1)', async (file) => {
    const parts = await collectParts(buildStageA(await fixtureCheckpoint(DIR, file), TINY));
    expect(parts.map((p) => [p.base, p.parameters, Object.keys(p.inputs), Object.keys(p.outputs)])).toEqual([['stage_a', stageAParamCount(TINY).decoder, ['latents'], ['images']]]);
    const g = parts[0].graph;
    const latents = await fixtureNpy(DIR, 'latents.npy');
    const ref = await fixtureNpy(DIR, 'ref_images.npy');
    const out = (await runGraph(g, { latents })).images;
    expect(out.dims).toEqual([2, 3, 32, 32]);
    expect(ref.shape).toEqual([2, 3, 32, 32]);
    expect(maxAbsDiff(out.data, ref.data as Float32Array)).toBeLessThan(2e-5);
    // The clamp is part of the contract: the reference output reaches both ends.
    expect(Math.min(...out.data)).toBe(0);
    expect(Math.max(...out.data)).toBe(1);
  });

  it('float16 weights and arithmetic stay within 5e-3 of the reference', async () => {
    const g = await stageAGraph(await fixtureCheckpoint(DIR, 'stage_a.safetensors'), TINY, { precision: 'float16' });
    const out = (await runGraph(g, { latents: await fixtureNpy(DIR, 'latents.npy') })).images;
    expect(maxAbsDiff(out.data, (await fixtureNpy(DIR, 'ref_images.npy')).data as Float32Array)).toBeLessThan(5e-3);
  });

  it('decoded in strips with its receptive field as context, the images equal the one-pass graph and the reference; with less context they do not', async () => {
    const ck = await fixtureCheckpoint(DIR, 'stage_a.safetensors');
    const latents = await fixtureNpy(DIR, 'latents.npy');
    const whole = (await runGraph(await stageAGraph(ck, TINY), { latents })).images;
    expect(stageAHalo(TINY)).toBe(4); // 2 bottleneck ResBlocks + one upsampling level
    const cfg = { ...TINY, stripRows: 3 }; // strips [0, 3), [3, 6), [6, 8) of the 8 latent rows
    expect(stageAStrips(cfg)).toEqual([
      { from: 0, to: 3, lo: 0, hi: 7 },
      { from: 3, to: 6, lo: 0, hi: 8 },
      { from: 6, to: 8, lo: 2, hi: 8 },
    ]);
    const strips = (await runGraph(await stageAGraph(ck, cfg), { latents })).images;
    expect(strips.dims).toEqual([2, 3, 32, 32]);
    expect(maxAbsDiff(strips.data, whole.data)).toBeLessThan(1e-6);
    expect(maxAbsDiff(strips.data, (await fixtureNpy(DIR, 'ref_images.npy')).data as Float32Array)).toBeLessThan(2e-5);
    // One row of context is less than the receptive field: the strips' edges come out wrong.
    const short = (await runGraph(await stageAGraph(ck, { ...TINY, stripRows: 2, stripHalo: 1 }), { latents })).images;
    expect(maxAbsDiff(short.data, whole.data)).toBeGreaterThan(1e-3);
  });

  it('the largest activation at 1024 px: 805,306,368 bytes an image in float32 in one pass, under 128 MiB in strips of 8 latent rows', () => {
    expect(stageAHalo(STAGE_A)).toBe(14);
    expect(stageAPeakBytes(STAGE_A, 1, 4)).toBe(4 * 192 * 512 * 512 * 4);
    expect(stageAPeakBytes({ ...STAGE_A, stripRows: 8 }, 1, 4)).toBe(4 * 192 * (8 + 28) * 2 * 512 * 4);
    expect(stageAPeakBytes({ ...STAGE_A, stripRows: 8 }, 1, 4)).toBeLessThan(128 * 2 ** 20);
    expect(() => stageAStrips({ ...STAGE_A, stripRows: 0 })).toThrow(/stripRows 0/);
  });

  it('parameter count of the released config: 18,406,894 (the "20M" the StableCascade readme rounds to), 15,706,842 in the decoder graph', () => {
    // Counted from StageA() with its default arguments in the reference code (encoder, codebook
    // 8192 x 4, decoder); BatchNorm running statistics are buffers, not parameters.
    const n = stageAParamCount(STAGE_A);
    expect(n.total).toBe(18_406_894);
    expect(n.decoder).toBe(15_706_842);
    expect(Math.round(n.total / 1e7) * 10).toBe(20);
  });

  it('the released config decodes 256x256 latents to 1024x1024 images', async () => {
    const shapes = stageADecoderShapes(STAGE_A);
    expect(shapes.get('up_blocks.0.0.weight')).toEqual([384, 4, 1, 1]);
    expect(shapes.get('up_blocks.13.weight')).toEqual([384, 192, 4, 4]);
    expect(shapes.get('out_block.0.weight')).toEqual([12, 192, 1, 1]);
  });

  it('refuses a part limit below its weights (stage A is one graph)', async () => {
    const ck = await fixtureCheckpoint(DIR, 'stage_a.safetensors');
    await expect(collectParts(buildStageA(ck, TINY, { maxPartBytes: 1000 }))).rejects.toThrow(/stage_a: \d+ bytes of float32 weights in one graph exceed the 1000-byte part limit/);
  });

  it('names a missing or misshapen tensor, and a file of another stage', () => {
    const shapes = stageADecoderShapes(TINY);
    const missing = new Map(shapes);
    missing.delete('up_blocks.2.gammas');
    expect(() => checkStageACheckpoint(shapesOnly(missing, 'stage_a.safetensors'), TINY)).toThrow(/stage_a\.safetensors: tensor up_blocks\.2\.gammas: missing tensor \(expected shape \[6\] \(tiny stage A\)\)/);
    const bad = new Map(shapes).set('up_blocks.3.weight', [16, 8, 2, 2]);
    expect(() => checkStageACheckpoint(shapesOnly(bad, 'stage_a.safetensors'), TINY)).toThrow(/stage_a\.safetensors: tensor up_blocks\.3\.weight: shape \[16, 8, 2, 2\] \(expected \[16, 8, 4, 4\] \(tiny stage A\)\)/);
    const stageB = shapesOnly(new Map([['effnet_mapper.0.weight', [1280, 16, 1, 1]], ['pixels_mapper.0.weight', [1280, 3, 1, 1]], ['up_blocks.0.0.weight', [1280, 1, 3, 3]]]), 'stage_b_lite_bf16.safetensors');
    expect(() => checkStageACheckpoint(stageB, STAGE_A)).toThrow(/stage_b_lite_bf16\.safetensors: tensor vquantizer\.codebook\.weight: this is a stage B file like stage_b\(_lite\)\(_bf16\)\.safetensors \(it has effnet_mapper\.0\.weight \[1280, 16, 1, 1\]\)/);
  });
});

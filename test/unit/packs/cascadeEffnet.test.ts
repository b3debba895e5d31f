// Stable Cascade's EfficientNet encoder (latentEncoder) built from a checkpoint with the official key
// names, compared with the public reference (StableCascade modules/effnet.py EfficientNetEncoder on
// torchvision's EfficientNet classes) run on the same random checkpoint at reduced size
// (test/fixtures/packs/README.md, cascade-effnet-tiny).
import { describe, expect, it } from 'vitest';
import { buildEffnet, checkEffnetCheckpoint, EFFNET_V2_S, effnetGraph, effnetLatentSize, effnetParamCount, effnetShapes, makeDivisible } from '../../../src/core/generate/packers/cascade/effnet.ts';
import { collectParts, fixtureCheckpoint, fixtureDir, fixtureNpy, maxAbs, maxAbsDiff, runGraph, shapesOnly, TINY_EFFNET } from './cascadeEFixtures.ts';

const DIR = fixtureDir('cascade-effnet-tiny');
const TINY = TINY_EFFNET;

describe('Stable Cascade EfficientNet encoder vs the reference implementation (reduced config)', () => {
  it.each(['effnet_encoder.safetensors', 'effnet_encoder_bf16.safetensors'])('%s: latents equal EfficientNetEncoder(images) in eval mode, BatchNorm folded', async (file) => {
    const parts = await collectParts(buildEffnet(await fixtureCheckpoint(DIR, file), TINY));
    expect(parts.map((p) => [p.base, p.parameters, Object.keys(p.inputs), Object.keys(p.outputs)])).toEqual([['effnet_encoder', effnetParamCount(TINY).total, ['images'], ['latents']]]);
    const images = await fixtureNpy(DIR, 'images.npy');
    const ref = await fixtureNpy(DIR, 'ref_latents.npy');
    const out = (await runGraph(parts[0].graph, { images })).latents;
    expect(out.dims).toEqual([2, 16, 8, 8]);
    expect(ref.shape).toEqual([2, 16, 8, 8]);
    expect(maxAbsDiff(out.data, ref.data as Float32Array)).toBeLessThan(2e-5 * Math.max(1, maxAbs(ref.data as Float32Array)));
  });

  it('float16 weights and arithmetic stay within 1 % of the output range', async () => {
    const g = await effnetGraph(await fixtureCheckpoint(DIR, 'effnet_encoder.safetensors'), TINY, { precision: 'float16' });
    const ref = (await fixtureNpy(DIR, 'ref_latents.npy')).data as Float32Array;
    const out = (await runGraph(g, { images: await fixtureNpy(DIR, 'images.npy') })).latents;
    expect(maxAbsDiff(out.data, ref)).toBeLessThan(0.01 * maxAbs(ref));
  });

  it('EfficientNetV2-S: 20,177,488 backbone parameters (torchvision 21,458,488 less the 1,281,000 of its classifier), 20,197,968 with the mapper', () => {
    const n = effnetParamCount(EFFNET_V2_S);
    expect(n.backbone).toBe(21_458_488 - (1280 * 1000 + 1000));
    expect(n.total).toBe(20_197_968);
    expect(effnetLatentSize(EFFNET_V2_S)).toBe(24);
    expect(effnetShapes(EFFNET_V2_S).get('backbone.6.14.block.3.0.weight')).toEqual([256, 1536, 1, 1]);
    expect(effnetShapes(EFFNET_V2_S).get('backbone.6.0.block.2.fc1.weight')).toEqual([40, 960, 1, 1]);
    expect(effnetShapes(EFFNET_V2_S).get('backbone.7.0.weight')).toEqual([1280, 256, 1, 1]);
  });

  it("rounds expanded widths as torchvision's _make_divisible does", () => {
    expect([makeDivisible(24), makeDivisible(96), makeDivisible(3), makeDivisible(13), makeDivisible(84.8)]).toEqual([24, 96, 8, 16, 88]);
  });

  it('names a missing or misshapen tensor, and a stage A / stage B file given as the encoder', () => {
    const shapes = effnetShapes(TINY);
    const missing = new Map(shapes);
    missing.delete('backbone.3.0.block.2.fc1.bias');
    expect(() => checkEffnetCheckpoint(shapesOnly(missing, 'effnet_encoder.safetensors'), TINY)).toThrow(/effnet_encoder\.safetensors: tensor backbone\.3\.0\.block\.2\.fc1\.bias: missing tensor \(expected shape \[4\] \(tiny EfficientNet encoder\)\)/);
    const bad = new Map(shapes).set('mapper.0.weight', [16, 1280, 1, 1]);
    expect(() => checkEffnetCheckpoint(shapesOnly(bad, 'effnet_encoder.safetensors'), TINY)).toThrow(/tensor mapper\.0\.weight: shape \[16, 1280, 1, 1\] \(expected \[16, 48, 1, 1\]/);
    const stageA = shapesOnly(new Map([['vquantizer.codebook.weight', [8192, 4]], ['up_blocks.0.0.weight', [384, 4, 1, 1]]]), 'stage_a.safetensors');
    expect(() => checkEffnetCheckpoint(stageA, EFFNET_V2_S)).toThrow(/stage_a\.safetensors: tensor backbone\.0\.0\.weight: this is a stage A \(VQGAN\) file like stage_a\.safetensors \(it has vquantizer\.codebook\.weight \[8192, 4\]\) \(expected an EfficientNet encoder file/);
    const stageB = shapesOnly(new Map([['effnet_mapper.0.weight', [1280, 16, 1, 1]], ['pixels_mapper.0.weight', [1280, 3, 1, 1]]]), 'stage_b_bf16.safetensors');
    expect(() => checkEffnetCheckpoint(stageB, EFFNET_V2_S)).toThrow(/stage_b_bf16\.safetensors: .*this is a stage B file/);
  });
});

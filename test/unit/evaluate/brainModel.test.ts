// Brain correlation with the simulation's ground-truth model, on an in-memory simulated "bundle":
// measured betas are the model's own noise-free prediction for stimulus 0, so scoring stimulus 0's
// image gives r = 1 in every ROI set, another image less.
import { describe, expect, it } from 'vitest';
import type { Manifest, TensorRef } from '../../../src/core/bundle/manifest.ts';
import { AREA_INFO, buildCortex, roiVoxels } from '../../../src/core/simulate/cortex.ts';
import { IMAGE_EMBED_DIM, IMAGE_SIZE, SEMANTIC_DIM } from '../../../src/core/simulate/dims.ts';
import { buildEncodingModel, predictBetasFromImage } from '../../../src/core/simulate/encoding.ts';
import { renderScene } from '../../../src/core/simulate/render.ts';
import { testStimuli } from '../../../src/core/simulate/stimuli.ts';
import { conditionAveragedBetas, simulatedBrainScorer } from '../../../src/core/evaluate/brainModel.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';

describe('simulated brain correlation', () => {
  it('r = 1 for the image that drove the measured betas, lower for another; repeats averaged', async () => {
    const nVox = 400;
    const cortex = buildCortex(2, 1, nVox);
    const model = buildEncodingModel(2, cortex);
    for (const k of ['energyStd', 'semStd'] as const) model[k] = model[k].map((v) => v || 1);
    const tensors = new Map<string, ArrayLike<number>>();
    const ref = (name: string, data: ArrayLike<number>): TensorRef => {
      tensors.set(name, data);
      return { shard: name, offset: 0, dtype: 'float32', shape: [data.length] };
    };
    const sfe = Float32Array.from({ length: SEMANTIC_DIM * (IMAGE_EMBED_DIM + 1) }, (_, i) => Math.sin(i * 0.37) * 0.2);
    const modelRefs = Object.fromEntries(Object.entries(model).filter(([k]) => k !== 'nVox').map(([k, v]) => [k, ref(k, v as ArrayLike<number>)]));
    modelRefs.quality.shape = [nVox];
    // a deterministic stand-in for the image encoder: channel means and sines of the pixels
    const encoder = async (x: Float32Array) => ({ data: Float32Array.from({ length: IMAGE_EMBED_DIM }, (_, j) => x[(j * 997) % x.length] - 0.5), dims: [1, IMAGE_EMBED_DIM] });
    const stims = testStimuli(2).filter((s) => s.scene);
    const img0 = renderScene(stims[0].scene!, IMAGE_SIZE);
    const img1 = renderScene(stims[7].scene!, IMAGE_SIZE);
    const chw = (u8: Uint8Array) => {
      const out = new Float32Array(3 * IMAGE_SIZE * IMAGE_SIZE);
      for (let i = 0; i < IMAGE_SIZE * IMAGE_SIZE; i++) for (let c = 0; c < 3; c++) out[c * IMAGE_SIZE * IMAGE_SIZE + i] = u8[i * 3 + c] / 255;
      return out;
    };
    const truth = predictBetasFromImage(model, img0, (await encoder(chw(img0))).data, sfe, IMAGE_SIZE);
    const rois = [...roiVoxels(cortex)].map(([area, vox]) => ({ name: area, color: '#ffffff', group: AREA_INFO[area].group, voxels: ref(`roi-${area}`, vox) }));
    // two repeats: truth ± d, so their mean is the truth
    const d = Float32Array.from({ length: nVox }, (_, i) => (i % 3) - 1);
    const trialData = [truth.map((v, i) => v + d[i]), truth.map((v, i) => v - d[i])];
    const manifest = {
      subjects: [{ id: 1, voxelCount: nVox, rois }],
      trials: [0, 1].map((r) => ({ subject: 1, stimulus: 0, condition: 'vision', repeat: r })),
      extensions: { simulation: { semanticFromEmbedding: ref('sfe', sfe), subjects: [{ subject: 1, model: modelRefs }] } },
    } as unknown as Manifest;
    const bundle = { manifest, tensor: async (r: TensorRef) => tensors.get(r.shard)!, trialBetas: async (i: number) => Float32Array.from(trialData[i]) };

    const avg = await conditionAveragedBetas(bundle, 1, 0, 'vision');
    for (let v = 0; v < nVox; v += 37) expect(avg[v]).toBeCloseTo(truth[v], 5);
    const scorer = simulatedBrainScorer(bundle, encoder, IMAGE_SIZE);
    const same = await scorer.score(1, 'vision', 0, fromUint8(img0, IMAGE_SIZE, IMAGE_SIZE, 3));
    for (const k of ['early', 'higher', 'all'] as const) expect(same[k]).toBeGreaterThan(0.99999);
    const other = await scorer.score(1, 'vision', 0, fromUint8(img1, IMAGE_SIZE, IMAGE_SIZE, 3));
    expect(other.all).toBeLessThan(0.99);
    await expect(conditionAveragedBetas(bundle, 1, 0, 'imagery')).rejects.toThrow(/no imagery trials/);
  });
});

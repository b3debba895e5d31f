import { describe, expect, it } from 'vitest';
import { BLURRY_DIM, IMAGE_SIZE, LOWLEVEL_SIZE, RETRIEVAL_DIM, RETRIEVAL_TOKENS, TEXT_DIM, TEXT_TOKENS } from '../../../src/core/simulate/dims.ts';
import { buildEncoderGraphs, dctMatrix, EncoderRunner, latentIndices, tokenize, vocabulary } from '../../../src/core/simulate/encoders.ts';
import { downsample, renderScene, toCHW } from '../../../src/core/simulate/render.ts';
import { testStimuli } from '../../../src/core/simulate/stimuli.ts';

describe('demo ONNX encoders', () => {
  it('DCT matrix is orthonormal and the latent layers are coarse to fine', () => {
    const n = 16;
    const D = dctMatrix(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += D[i * n + k] * D[j * n + k];
      expect(acc).toBeCloseTo(i === j ? 1 : 0, 5);
    }
    const { indices, layers } = latentIndices();
    expect(indices.length).toBe(BLURRY_DIM);
    expect(new Set(indices).size).toBe(BLURRY_DIM);
    expect(layers).toEqual([3, 9, 36, 144, 192]);
  });

  it('tokenizes captions with bos/eos/pad and known words', () => {
    const v = vocabulary();
    const t = tokenize('a red ball on grass');
    expect(Number(t[0])).toBe(1);
    expect(v[Number(t[2])]).toBe('red');
    expect(Number(t[6])).toBe(2);
    expect(Number(t[7])).toBe(0);
  });

  it('run with onnxruntime: shapes, per-token L2 norm, low-level round trip is a blurred copy', async () => {
    const g = buildEncoderGraphs(1, null);
    const r = await EncoderRunner.create(g);
    const st = testStimuli(1);
    const imgs = [renderScene(st[6].scene!), renderScene(st[2].scene!)];
    const chw = new Float32Array(2 * 3 * IMAGE_SIZE * IMAGE_SIZE);
    imgs.forEach((im, i) => toCHW(im, IMAGE_SIZE, chw, i * 3 * IMAGE_SIZE * IMAGE_SIZE));
    const emb = await r.image(chw, 2);
    expect(emb.length).toBe(2 * 128);
    const ret = await r.retrieval(chw, 2);
    expect(ret.length).toBe(2 * RETRIEVAL_TOKENS * RETRIEVAL_DIM);
    for (let t = 0; t < 2 * RETRIEVAL_TOKENS; t++) {
      let s = 0;
      for (let d = 0; d < RETRIEVAL_DIM; d++) s += ret[t * RETRIEVAL_DIM + d] ** 2;
      expect(Math.sqrt(s)).toBeCloseTo(1, 4);
    }
    const txt = await r.text(tokenize('a red boat in the water'), 1);
    expect(txt.length).toBe(TEXT_TOKENS * TEXT_DIM);
    // low-level: encode the 64x64 image, decode, compare with the original
    const small = downsample(imgs[0], IMAGE_SIZE, IMAGE_SIZE / LOWLEVEL_SIZE);
    const x = toCHW(small, LOWLEVEL_SIZE);
    const lat = await r.lowlevel(x, 1);
    expect(lat.length).toBe(BLURRY_DIM);
    const rec = await r.decodeLowlevel(lat);
    expect(rec.length).toBe(x.length);
    let ma = 0, mb = 0;
    for (let i = 0; i < x.length; i++) { ma += x[i]; mb += rec[i]; }
    ma /= x.length; mb /= x.length;
    let sab = 0, saa = 0, sbb = 0;
    for (let i = 0; i < x.length; i++) { sab += (x[i] - ma) * (rec[i] - mb); saa += (x[i] - ma) ** 2; sbb += (rec[i] - mb) ** 2; }
    expect(sab / Math.sqrt(saa * sbb)).toBeGreaterThan(0.85);
    expect(Math.min(...rec)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...rec)).toBeLessThanOrEqual(1);
    // different images give different embeddings
    let diff = 0;
    for (let i = 0; i < 128; i++) diff += Math.abs(emb[i] - emb[128 + i]);
    expect(diff).toBeGreaterThan(1);
    await r.release();
  });
});

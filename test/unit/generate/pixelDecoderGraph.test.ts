// The demo pixel decoder (stage A role) adds the PCA mean after the Reshape instead of right after
// the MatMul (ORT fuses MatMul+Add into a Gemm, whose WebGPU kernel is much slower). The math is
// the same: this compares the graph, on wasm, with the previous graph layout (bit for bit) and a float64
// reference of mean + latents·(basis·sigma), bilinear x2 (half-pixel), clipped to [0, 1].
import { describe, expect, it } from 'vitest';
import { DEMO_B_DIM, pcaDecoderGraph } from '../../../src/core/simulate/demoPack.ts';
import { NoiseRng } from '../../../src/core/base/rng.ts';
import { GraphBuilder } from '../../../src/core/onnx/builder.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';
import { IMAGE_SIZE, LOWLEVEL_SIZE } from '../../../src/core/simulate/dims.ts';

const S = LOWLEVEL_SIZE;
const d = 3 * S * S;
const rng = new NoiseRng(11);
const pca = {
  dim: d,
  basis: Float64Array.from({ length: DEMO_B_DIM * d }, () => rng.normal() * 0.02),
  sigma: Float64Array.from({ length: DEMO_B_DIM }, (_, k) => 1 / (1 + k)),
  mean: Float64Array.from({ length: d }, () => 0.5 + 0.1 * rng.normal()),
};

/** The graph as it was built before (mean added to the MatMul's output, then the Reshape). */
function previousLayout(): Uint8Array {
  const g = new GraphBuilder('demo_pca_decoder');
  g.input('latents', 'float32', ['batch', DEMO_B_DIM]);
  const B = new Float32Array(DEMO_B_DIM * d);
  for (let c = 0; c < DEMO_B_DIM; c++) for (let j = 0; j < d; j++) B[c * d + j] = pca.basis[c * d + j] * pca.sigma[c];
  const flat = g.op('Add', [g.op('MatMul', ['latents', g.floats(B, [DEMO_B_DIM, d])]), g.floats(Float32Array.from(pca.mean), [d])]);
  const small = g.op('Reshape', [flat, g.int64s([-1, 3, S, S])]);
  const f = IMAGE_SIZE / S;
  const up = g.op('Resize', [small, '', g.floats([1, 1, f, f], [4])], { mode: 'linear' });
  g.op('Clip', [up, g.floats([0], []), g.floats([1], [])], undefined, 'images');
  g.output('images', 'float32', ['batch', 3, IMAGE_SIZE, IMAGE_SIZE]);
  return g.toBytes();
}

async function run(bytes: Uint8Array, latents: Float32Array, batch: number): Promise<Float32Array> {
  const s = await createSession(bytes);
  const out = await s.run({ latents: new ort.Tensor('float32', latents, [batch, DEMO_B_DIM]) });
  await s.release();
  return out.images.data as Float32Array;
}

/** float64 reference: PCA decode, then ONNX Resize linear half_pixel x2 (edge-clamped), clip. */
function reference(latents: Float32Array, k: number): Float64Array {
  const small = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let v = pca.mean[j];
    for (let c = 0; c < DEMO_B_DIM; c++) v += latents[k * DEMO_B_DIM + c] * pca.basis[c * d + j] * pca.sigma[c];
    small[j] = v;
  }
  const O = IMAGE_SIZE;
  const out = new Float64Array(3 * O * O);
  const src = (o: number) => {
    const x = Math.min(S - 1, Math.max(0, (o + 0.5) / 2 - 0.5));
    const x0 = Math.floor(x);
    return { x0, x1: Math.min(S - 1, x0 + 1), w: x - x0 };
  };
  for (let ch = 0; ch < 3; ch++) {
    for (let oy = 0; oy < O; oy++) {
      const ry = src(oy);
      for (let ox = 0; ox < O; ox++) {
        const rx = src(ox);
        const at = (y: number, x: number) => small[ch * S * S + y * S + x];
        const top = at(ry.x0, rx.x0) * (1 - rx.w) + at(ry.x0, rx.x1) * rx.w;
        const bot = at(ry.x1, rx.x0) * (1 - rx.w) + at(ry.x1, rx.x1) * rx.w;
        out[ch * O * O + oy * O + ox] = Math.min(1, Math.max(0, top * (1 - ry.w) + bot * ry.w));
      }
    }
  }
  return out;
}

describe('demo pixel decoder graph', () => {
  it('equals the previous layout on wasm and a float64 reference, one candidate or a batch', async () => {
    const batch = 3;
    const latents = Float32Array.from({ length: batch * DEMO_B_DIM }, () => rng.normal());
    const now = await run(pcaDecoderGraph(pca), latents, batch);
    const before = await run(previousLayout(), latents, batch);
    const per = 3 * IMAGE_SIZE * IMAGE_SIZE;
    expect(now.length).toBe(batch * per);
    let maxPrev = 0;
    for (let i = 0; i < now.length; i++) maxPrev = Math.max(maxPrev, Math.abs(now[i] - before[i]));
    expect(maxPrev).toBe(0); // bit-identical on wasm
    // batched rows = one-at-a-time rows (the pipeline decodes the candidates in one run)
    const one = await run(pcaDecoderGraph(pca), latents.slice(DEMO_B_DIM, 2 * DEMO_B_DIM), 1);
    expect(Array.from(now.subarray(per, 2 * per))).toEqual(Array.from(one));
    for (let k = 0; k < batch; k++) {
      const ref = reference(latents, k);
      let maxErr = 0;
      for (let i = 0; i < per; i++) maxErr = Math.max(maxErr, Math.abs(now[k * per + i] - ref[i]));
      expect(maxErr).toBeLessThan(1e-5);
    }
  });
});

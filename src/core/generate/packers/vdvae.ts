// VDVAE's top-down decoder (Child, 2021, "Very Deep VAEs Generalize Autoregressive Models and Can
// Outperform Them on Images"; openai/vdvae) as an ONNX graph for the `lowLevelDecoder` stage, built
// from the checkpoint's `decoder.*` tensors: latents [B, decoded] (the first layers, flattened
// [zdim, res, res] each, in layer order) and prior_noise [B, rest] (standard normal, one per
// undecoded layer) -> px [B, S, S, 3] in [-1, 1]. Each block: optional nearest upsampling of the
// lower resolution mixed in, the prior Block (GELU before each of 4 convs, 3x3 above 2x2) giving
// the prior's mean, log std and a residual, z = decoded latent or mean + std·t·noise, a 1x1
// projection of z added, a residual Block. Output: gain/bias, a 1x1 conv to the discretised mixture
// of logistics, read here at the mean of its most likely component (the deterministic pixel).
// Config-driven (block string, width, zdim, mixtures), so tests run a reduced decoder against the
// reference implementation on the same random checkpoint.
import { BundleError } from '../../base/errors.ts';
import { conv2d, GraphBuilder } from '../../onnx/builder.ts';
import type { Checkpoint } from './checkpoint.ts';

export interface VdvaeConfig {
  name: string;
  /** openai/vdvae's dec_blocks, e.g. "1x2,4m1,4x3,..." (resolution x count, resolution m mixin). */
  decBlocks: string;
  width: number;
  zdim: number;
  bottleneckMultiple: number;
  numMixtures: number;
  imageSize: number;
  /** How many leading layers come from the brain (the rest from the prior). */
  decodedLayers: number;
  /** The encoder's blocks (hps.py enc_blocks): only counted here (parameter check), not built. */
  encBlocks?: string;
}

/** imagenet64-iter-1600000-model-ema.th (hps.py `imagenet64`); MIRAGE decodes the first 31 layers. */
export const VDVAE_IMAGENET64: VdvaeConfig = {
  name: 'VDVAE ImageNet 64x64',
  decBlocks: '1x2,4m1,4x3,8m4,8x7,16m8,16x15,32m16,32x31,64m32,64x12',
  width: 512,
  zdim: 16,
  bottleneckMultiple: 0.25,
  numMixtures: 10,
  imageSize: 64,
  decodedLayers: 31,
  encBlocks: '64x11,64d2,32x20,32d2,16x9,16d2,8x8,8d2,4x7,4d4,1x5',
};

/** [resolution, mixin] per decoder block, as vae.py parse_layer_string reads the string. */
export function parseBlocks(s: string): [number, number | null][] {
  const out: [number, number | null][] = [];
  for (const ss of s.split(',')) {
    if (ss.includes('x')) {
      const [res, n] = ss.split('x').map(Number);
      for (let i = 0; i < n; i++) out.push([res, null]);
    } else if (ss.includes('m')) {
      const [res, mixin] = ss.split('m').map(Number);
      out.push([res, mixin]);
    } else out.push([Number(ss), null]);
  }
  return out;
}

/** Sizes of the latents and prior_noise inputs: the decoded layers' values, and the rest. */
export function vdvaeLatentSizes(cfg: VdvaeConfig): { decoded: number; prior: number } {
  const sizes = parseBlocks(cfg.decBlocks).map(([r]) => cfg.zdim * r * r);
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return { decoded: sum(sizes.slice(0, cfg.decodedLayers)), prior: sum(sizes.slice(cfg.decodedLayers)) };
}

const D = 'decoder.';

/** Every decoder tensor the graph reads, under the checkpoint's key names (the encoder and the posterior `enc` are not read). */
export function vdvaeDecoderShapes(cfg: VdvaeConfig): Map<string, number[]> {
  const w = cfg.width;
  const mid = Math.floor(w * cfg.bottleneckMultiple);
  const m = new Map<string, number[]>();
  const conv = (key: string, o: number, i: number, k: number) => {
    m.set(`${key}.weight`, [o, i, k, k]);
    m.set(`${key}.bias`, [o]);
  };
  const block = (key: string, inW: number, outW: number, k: number) => {
    conv(`${key}.c1`, mid, inW, 1);
    conv(`${key}.c2`, mid, mid, k);
    conv(`${key}.c3`, mid, mid, k);
    conv(`${key}.c4`, outW, mid, 1);
  };
  parseBlocks(cfg.decBlocks).forEach(([res], i) => {
    const k = res > 2 ? 3 : 1;
    block(`${D}dec_blocks.${i}.prior`, w, 2 * cfg.zdim + w, k);
    conv(`${D}dec_blocks.${i}.z_proj`, w, cfg.zdim, 1);
    block(`${D}dec_blocks.${i}.resnet`, w, w, k);
  });
  resolutions(cfg).forEach((r, j) => m.set(`${D}bias_xs.${j}`, [1, w, r, r]));
  m.set(`${D}gain`, [1, w, 1, 1]);
  m.set(`${D}bias`, [1, w, 1, 1]);
  conv(`${D}out_net.out_conv`, cfg.numMixtures * 10, w, 1);
  return m;
}

function resolutions(cfg: VdvaeConfig): number[] {
  return [...new Set(parseBlocks(cfg.decBlocks).map(([r]) => r))].sort((a, b) => a - b);
}

/**
 * Parameters of the whole VAE as trained (encoder, decoder with its posterior blocks), from the
 * config alone: what the paper's parameter count covers. Each Block is 1x1 in->mid, two k x k
 * mid->mid, 1x1 mid->out, with biases.
 */
export function vdvaeParamCount(cfg: VdvaeConfig): number {
  const w = cfg.width;
  const mid = Math.floor(w * cfg.bottleneckMultiple);
  const block = (inW: number, outW: number, k: number) => inW * mid + mid + 2 * (mid * mid * k * k + mid) + mid * outW + outW;
  let n = vdvaeDecoderParamCount(cfg);
  for (const [res] of parseBlocks(cfg.decBlocks)) n += block(2 * w, 2 * cfg.zdim, res > 2 ? 3 : 1); // posterior q(z|x)
  n += 3 * w * 9 + w; // encoder in_conv 3x3
  for (const ss of (cfg.encBlocks ?? '').split(',').filter(Boolean)) {
    const res = Number(ss.split(/[xmd]/)[0]);
    const count = ss.includes('x') ? Number(ss.split('x')[1]) : 1;
    n += count * block(w, w, res > 2 ? 3 : 1);
  }
  return n;
}

/** Parameters of the decoder as built (from the config, no weights). */
export function vdvaeDecoderParamCount(cfg: VdvaeConfig): number {
  let n = 0;
  for (const s of vdvaeDecoderShapes(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** Every tensor present with its shape; a checkpoint of another config is named by the tensor that differs. */
export function checkVdvaeCheckpoint(ck: Checkpoint, cfg: VdvaeConfig): void {
  for (const [k, shape] of vdvaeDecoderShapes(cfg)) {
    const t = ck.tensors.get(k);
    if (!t) throw new BundleError(ck.files.join(', ') || ck.label, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfg.name})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfg.name})` });
    }
  }
  const extra = ck.tensors.get(`${D}dec_blocks.${parseBlocks(cfg.decBlocks).length}.prior.c1.weight`);
  if (extra) throw new BundleError(extra.file, `more decoder blocks than the ${parseBlocks(cfg.decBlocks).length} of ${cfg.name}`, { field: `tensor ${extra.name}`, expected: cfg.decBlocks });
}

/**
 * Builds the decoder graph (checkVdvaeCheckpoint first). The prior temperature is not in the graph:
 * the caller scales the standard-normal `prior_noise` by it (exp(log std)·t·ε = exp(log std)·(t·ε)),
 * as the pipeline does with the stage's `priorTemperature` setting.
 */
export async function buildVdvaeDecoderGraph(ck: Checkpoint, cfg: VdvaeConfig): Promise<GraphBuilder> {
  checkVdvaeCheckpoint(ck, cfg);
  const shapes = vdvaeDecoderShapes(cfg);
  const g = new GraphBuilder('vdvae_decoder');
  g.metadata.model = `${cfg.name} top-down decoder (openai/vdvae), mixture read at the mean of its most likely component`;
  const w = async (key: string) => {
    g.initializer(key, await ck.read(key), shapes.get(key) as number[]);
    return key;
  };
  const convK = async (x: string, key: string, k: number) => conv2d(g, [x, await w(`${key}.weight`), await w(`${key}.bias`)], [k, k], { pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] });
  // GELU, exact (torch's F.gelu default): x·(1 + erf(x/√2))/2.
  const half = g.floats([0.5], [1], 'half');
  const one = g.floats([1], [1], 'one');
  const invSqrt2 = g.floats([Math.SQRT1_2], [1], 'inv_sqrt2');
  const gelu = (x: string) => g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [one, g.op('Erf', [g.op('Mul', [x, invSqrt2])])])]);
  const block = async (x: string, key: string, k: number, residual: boolean) => {
    let h = await convK(gelu(x), `${key}.c1`, 1);
    h = await convK(gelu(h), `${key}.c2`, k);
    h = await convK(gelu(h), `${key}.c3`, k);
    h = await convK(gelu(h), `${key}.c4`, 1);
    return residual ? g.op('Add', [x, h]) : h;
  };

  const sizes = vdvaeLatentSizes(cfg);
  g.input('latents', 'float32', ['batch', sizes.decoded]).input('prior_noise', 'float32', ['batch', sizes.prior]);
  const blocks = parseBlocks(cfg.decBlocks);
  const zdim = cfg.zdim;
  // xs[res]: the running activation of each resolution, starting from its learned bias (tiled over the batch by broadcasting).
  const batchZeros = g.op('Mul', [g.op('Reshape', [g.op('Slice', ['latents', g.int64s([0]), g.int64s([1]), g.int64s([1])]), g.int64s([-1, 1, 1, 1])]), g.floats([0], [1], 'zero')]);
  const xs = new Map<number, string>();
  for (const [j, r] of resolutions(cfg).entries()) xs.set(r, g.op('Add', [batchZeros, await w(`${D}bias_xs.${j}`)]));
  let offDecoded = 0;
  let offPrior = 0;
  for (const [i, [res, mixin]] of blocks.entries()) {
    const key = `${D}dec_blocks.${i}`;
    const k = res > 2 ? 3 : 1;
    let x = xs.get(res) as string;
    if (mixin !== null) {
      const low = xs.get(mixin) as string;
      x = g.op('Add', [x, g.op('Resize', [low, '', g.floats([1, 1, res / mixin, res / mixin], [4], 'scales')], { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' })]);
    }
    const feats = await block(x, `${key}.prior`, k, false);
    const split = (a: number, b: number) => g.op('Slice', [feats, g.int64s([a]), g.int64s([b]), g.int64s([1])]);
    const pm = split(0, zdim);
    const pv = split(zdim, 2 * zdim);
    x = g.op('Add', [x, split(2 * zdim, 2 * zdim + cfg.width)]);
    const n = zdim * res * res;
    let z: string;
    if (i < cfg.decodedLayers) {
      z = g.op('Reshape', [g.op('Slice', ['latents', g.int64s([offDecoded]), g.int64s([offDecoded + n]), g.int64s([1])]), g.int64s([-1, zdim, res, res])]);
      offDecoded += n;
    } else {
      const eps = g.op('Reshape', [g.op('Slice', ['prior_noise', g.int64s([offPrior]), g.int64s([offPrior + n]), g.int64s([1])]), g.int64s([-1, zdim, res, res])]);
      offPrior += n;
      z = g.op('Add', [g.op('Mul', [g.op('Exp', [pv]), eps]), pm]);
    }
    x = g.op('Add', [x, await convK(z, `${key}.z_proj`, 1)]);
    xs.set(res, await block(x, `${key}.resnet`, k, true));
  }
  // Output: gain/bias, 1x1 conv to the mixture's parameters, NHWC.
  const top = g.op('Add', [g.op('Mul', [xs.get(cfg.imageSize) as string, await w(`${D}gain`)]), await w(`${D}bias`)]);
  const l = g.op('Transpose', [await convK(top, `${D}out_net.out_conv`, 1)], { perm: [0, 2, 3, 1] });
  const nm = cfg.numMixtures;
  const s = cfg.imageSize;
  const logits = g.op('Slice', [l, g.int64s([0]), g.int64s([nm]), g.int64s([3])]);
  const params = g.op('Reshape', [g.op('Slice', [l, g.int64s([nm]), g.int64s([10 * nm]), g.int64s([3])]), g.int64s([-1, s, s, 3, 3 * nm])]);
  // The most likely component, one-hot over the mixtures, broadcast over the 3 channels.
  const idx = g.op('ArgMax', [logits], { axis: 3, keepdims: 0 });
  const sel = g.op('Unsqueeze', [g.op('OneHot', [idx, g.int64s([nm]), g.floats([0, 1], [2], 'onehot')], { axis: -1 }), g.int64s([3])]);
  const pick = (a: number, f?: (t: string) => string) => {
    const p = g.op('Slice', [params, g.int64s([a * nm]), g.int64s([(a + 1) * nm]), g.int64s([4])]);
    return g.op('ReduceSum', [g.op('Mul', [f ? f(p) : p, sel]), g.int64s([4])], { keepdims: 0 });
  };
  const means = pick(0);
  const coeffs = pick(2, (p) => g.op('Tanh', [p]));
  const ch = (t: string, c: number) => g.op('Slice', [t, g.int64s([c]), g.int64s([c + 1]), g.int64s([3])]);
  const lo = g.floats([-1], [], 'minus_one');
  const hi = g.floats([1], [], 'plus_one');
  const clip = (t: string) => g.op('Clip', [t, lo, hi]);
  const x0 = clip(ch(means, 0));
  const x1 = clip(g.op('Add', [ch(means, 1), g.op('Mul', [ch(coeffs, 0), x0])]));
  const x2 = clip(g.op('Add', [g.op('Add', [ch(means, 2), g.op('Mul', [ch(coeffs, 1), x0])]), g.op('Mul', [ch(coeffs, 2), x1])]));
  g.op('Concat', [x0, x1, x2], { axis: 3 }, 'px');
  g.output('px', 'float32', ['batch', s, s, 3]);
  return g;
}

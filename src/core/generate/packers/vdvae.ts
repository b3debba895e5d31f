// VDVAE (Child, 2021, "Very Deep VAEs Generalize Autoregressive Models and Can Outperform Them on
// Images"; openai/vdvae) as two ONNX graphs built from the checkpoint's tensors:
// - the top-down decoder (`lowLevelDecoder`): latents [B, decoded] (the first layers, flattened
//   [zdim, res, res] each, in layer order) and prior_noise [B, rest] (standard normal, one per
//   undecoded layer) -> px [B, S, S, 3] in [-1, 1]. Each block: optional nearest upsampling of the
//   lower resolution mixed in, the prior Block (GELU before each of 4 convs, 3x3 above 2x2) giving
//   the prior's mean, log std and a residual, z = decoded latent or mean + std·noise, a 1x1
//   projection of z added, a residual Block. Output: gain/bias, a 1x1 conv to the discretised
//   mixture of logistics, sampled with the uniform draws given as inputs (mix_uniform picks the
//   component by the Gumbel-max trick, pixel_uniform the logistic sample); draws of 0.5 everywhere
//   give the mean of the most likely component (the deterministic pixel).
// - the encoder (`lowLevelEncoder`, for MIRAGE's targets of new images): the bottom-up encoder,
//   then the first decoded layers' top-down blocks with their posterior q(z|x) Blocks, returning
//   each layer's posterior sample z = mean + std·posterior_noise (the `z` vae.py's
//   `forward(..., get_latents=True)` reports; zero noise gives the posterior means), flattened in
//   the same order as the decoder's latents input.
// Config-driven (block strings, width, zdim, mixtures), so tests run a reduced model against the
// reference implementation on the same random checkpoint. A float16 build keeps the float32
// contract: inputs are cast to half at the start, and the decoder's mixture parameters back to
// float32 before sampling (the component choice and the logistic's logs stay in full precision).
import { BundleError } from '../../base/errors.ts';
import { conv2d, GraphBuilder } from '../../onnx/builder.ts';
import type { Checkpoint } from './checkpoint.ts';
import { graphWeights, ONNX_FLOAT, ONNX_HALF, type GraphPrecision } from './graphWeights.ts';

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
  /** The encoder's blocks (hps.py enc_blocks: resolution x count, resolution d down-rate); absent: decoder only. */
  encBlocks?: string;
  /** The encoder's input preprocessing (vdvae data.py): (pixel + shift)·scale on 0..255 values. */
  inputShift?: number;
  inputScale?: number;
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
  // data.py, imagenet64: the training set's pixel mean and std.
  inputShift: -115.92961967,
  inputScale: 1 / 69.37404,
};

/** The sampler's uniform draws lie in [UNIFORM_LOW, 1 − UNIFORM_LOW] (vae_helpers.py), so no log sees 0 or 1. */
export const UNIFORM_LOW = 1e-5;

/**
 * [resolution, n] per block, as vae.py parse_layer_string reads the string: n is the mixed-in
 * resolution of an `RmM` decoder block, the down-rate of an `RdD` encoder block, else null.
 */
export function parseBlocks(s: string): [number, number | null][] {
  const out: [number, number | null][] = [];
  for (const ss of s.split(',')) {
    if (ss.includes('x')) {
      const [res, n] = ss.split('x').map(Number);
      for (let i = 0; i < n; i++) out.push([res, null]);
    } else if (ss.includes('m') || ss.includes('d')) {
      const [res, n] = ss.split(/[md]/).map(Number);
      out.push([res, n]);
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
const E = 'encoder.';

type Shapes = Map<string, number[]>;

function conv(m: Shapes, key: string, o: number, i: number, k: number): void {
  m.set(`${key}.weight`, [o, i, k, k]);
  m.set(`${key}.bias`, [o]);
}

/** vae.py Block: 1x1 in->mid, two k x k mid->mid, 1x1 mid->out (k = 3 above 2x2), each with a bias. */
function blockShapes(m: Shapes, cfg: VdvaeConfig, key: string, inW: number, outW: number, res: number): void {
  const mid = Math.floor(cfg.width * cfg.bottleneckMultiple);
  const k = res > 2 ? 3 : 1;
  conv(m, `${key}.c1`, mid, inW, 1);
  conv(m, `${key}.c2`, mid, mid, k);
  conv(m, `${key}.c3`, mid, mid, k);
  conv(m, `${key}.c4`, outW, mid, 1);
}

/** Decoder block i's prior, z projection and residual Block (what the top-down pass runs). */
function topDownShapes(m: Shapes, cfg: VdvaeConfig, i: number, res: number): void {
  const w = cfg.width;
  blockShapes(m, cfg, `${D}dec_blocks.${i}.prior`, w, 2 * cfg.zdim + w, res);
  conv(m, `${D}dec_blocks.${i}.z_proj`, w, cfg.zdim, 1);
  blockShapes(m, cfg, `${D}dec_blocks.${i}.resnet`, w, w, res);
}

function resolutions(cfg: VdvaeConfig): number[] {
  return [...new Set(parseBlocks(cfg.decBlocks).map(([r]) => r))].sort((a, b) => a - b);
}

/** Every decoder tensor the decoder graph reads, under the checkpoint's key names (not the encoder, not the posterior `enc`). */
export function vdvaeDecoderShapes(cfg: VdvaeConfig): Shapes {
  const w = cfg.width;
  const m: Shapes = new Map();
  parseBlocks(cfg.decBlocks).forEach(([res], i) => topDownShapes(m, cfg, i, res));
  resolutions(cfg).forEach((r, j) => m.set(`${D}bias_xs.${j}`, [1, w, r, r]));
  m.set(`${D}gain`, [1, w, 1, 1]);
  m.set(`${D}bias`, [1, w, 1, 1]);
  conv(m, `${D}out_net.out_conv`, cfg.numMixtures * 10, w, 1);
  return m;
}

function requireEncoder(cfg: VdvaeConfig): string {
  if (!cfg.encBlocks) throw new BundleError(cfg.name, 'no encoder blocks in the config', { field: 'encBlocks', expected: 'hps.py enc_blocks, e.g. 64x11,64d2,...' });
  return cfg.encBlocks;
}

/** The bottom-up encoder's tensors (`encoder.*`): a 3x3 input conv, then residual Blocks. */
export function vdvaeEncoderNetShapes(cfg: VdvaeConfig): Shapes {
  const w = cfg.width;
  const m: Shapes = new Map();
  conv(m, `${E}in_conv`, w, 3, 3);
  parseBlocks(requireEncoder(cfg)).forEach(([res], i) => blockShapes(m, cfg, `${E}enc_blocks.${i}`, w, w, res));
  return m;
}

/** The posterior q(z|x) Block of decoder blocks 0..n-1 (`decoder.dec_blocks.N.enc.*`): [x, activations] -> mean, log std. */
function posteriorShapes(cfg: VdvaeConfig, n: number): Shapes {
  const m: Shapes = new Map();
  parseBlocks(cfg.decBlocks).slice(0, n).forEach(([res], i) => blockShapes(m, cfg, `${D}dec_blocks.${i}.enc`, 2 * cfg.width, 2 * cfg.zdim, res));
  return m;
}

/**
 * Every tensor the encoder graph reads: the encoder, the posterior Blocks of the decoded layers,
 * the top-down blocks before the last decoded one (the last one only needs its posterior), and the
 * learned starting activations of the resolutions those blocks use.
 */
export function vdvaeEncoderShapes(cfg: VdvaeConfig): Shapes {
  const blocks = parseBlocks(cfg.decBlocks).slice(0, cfg.decodedLayers);
  const m = new Map([...vdvaeEncoderNetShapes(cfg), ...posteriorShapes(cfg, cfg.decodedLayers)]);
  blocks.slice(0, -1).forEach(([res], i) => topDownShapes(m, cfg, i, res));
  const used = new Set(blocks.map(([r]) => r));
  resolutions(cfg).forEach((r, j) => {
    if (used.has(r)) m.set(`${D}bias_xs.${j}`, [1, cfg.width, r, r]);
  });
  return m;
}

const count = (m: Shapes) => [...m.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

/**
 * Parameters of the whole VAE as trained (encoder, decoder with its posterior blocks), from the
 * config alone: what the paper's parameter count covers.
 */
export function vdvaeParamCount(cfg: VdvaeConfig): number {
  const all = new Map([...vdvaeDecoderShapes(cfg), ...posteriorShapes(cfg, parseBlocks(cfg.decBlocks).length)]);
  return count(all) + (cfg.encBlocks ? count(vdvaeEncoderNetShapes(cfg)) : 0);
}

/** Parameters of the decoder graph (from the config, no weights). */
export function vdvaeDecoderParamCount(cfg: VdvaeConfig): number {
  return count(vdvaeDecoderShapes(cfg));
}

/** Parameters of the encoder graph, and of the bottom-up encoder (`encoder.*`) alone. */
export function vdvaeEncoderParamCount(cfg: VdvaeConfig): { graph: number; encoder: number } {
  return { graph: count(vdvaeEncoderShapes(cfg)), encoder: count(vdvaeEncoderNetShapes(cfg)) };
}

/** Every tensor present with its shape; a checkpoint of another config is named by the tensor that differs. */
function checkShapes(ck: Checkpoint, cfg: VdvaeConfig, shapes: Shapes): void {
  for (const [k, shape] of shapes) {
    const t = ck.tensors.get(k);
    if (!t) throw new BundleError(ck.files.join(', ') || ck.label, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfg.name})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfg.name})` });
    }
  }
}

/** A deeper model (more blocks than the config) is refused by its first extra block's tensor. */
function checkNoExtraBlock(ck: Checkpoint, cfg: VdvaeConfig, key: string, blocks: string, n: number): void {
  const extra = ck.tensors.get(key);
  if (extra) throw new BundleError(extra.file, `more blocks than the ${n} of ${cfg.name}`, { field: `tensor ${extra.name}`, expected: blocks });
}

/** The decoder's tensors present with their shapes, and no decoder block beyond the config's. */
export function checkVdvaeCheckpoint(ck: Checkpoint, cfg: VdvaeConfig): void {
  checkShapes(ck, cfg, vdvaeDecoderShapes(cfg));
  const n = parseBlocks(cfg.decBlocks).length;
  checkNoExtraBlock(ck, cfg, `${D}dec_blocks.${n}.prior.c1.weight`, cfg.decBlocks, n);
}

/** The encoder graph's tensors present with their shapes, and no encoder block beyond the config's. */
export function checkVdvaeEncoderCheckpoint(ck: Checkpoint, cfg: VdvaeConfig): void {
  checkShapes(ck, cfg, vdvaeEncoderShapes(cfg));
  const n = parseBlocks(requireEncoder(cfg)).length;
  checkNoExtraBlock(ck, cfg, `${E}enc_blocks.${n}.c1.weight`, requireEncoder(cfg), n);
}

/** The ops both graphs share, over one builder and one checkpoint, in the graph's precision. */
function vdvaeOps(g: GraphBuilder, ck: Checkpoint, shapes: Shapes, cfg: VdvaeConfig, precision: GraphPrecision) {
  const { w, konst } = graphWeights(g, ck, shapes, { precision });
  const f16 = precision === 'float16';
  const floats = (v: number[], name: string) => konst(Float32Array.from(v), [v.length], g.fresh(name));
  /** A float32 graph input in the graph's precision. */
  const input = (name: string) => (f16 ? g.op('Cast', [name], { to: ONNX_HALF }) : name);
  /** A value back in float32 (the contract), optionally under a given name. */
  const toFloat32 = (t: string, name?: string) => (f16 ? g.op('Cast', [t], { to: ONNX_FLOAT }, name) : name ? g.op('Identity', [t], undefined, name) : t);
  const convK = async (x: string, key: string, k: number) => conv2d(g, [x, await w(`${key}.weight`), await w(`${key}.bias`)], [k, k], { pads: k === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0] });
  // GELU, exact (torch's F.gelu default): x·(1 + erf(x/√2))/2.
  const half = floats([0.5], 'half');
  const one = floats([1], 'one');
  const invSqrt2 = floats([Math.SQRT1_2], 'inv_sqrt2');
  const gelu = (x: string) => g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [one, g.op('Erf', [g.op('Mul', [x, invSqrt2])])])]);
  const block = async (x: string, key: string, res: number, residual: boolean) => {
    const k = res > 2 ? 3 : 1;
    let h = await convK(gelu(x), `${key}.c1`, 1);
    h = await convK(gelu(h), `${key}.c2`, k);
    h = await convK(gelu(h), `${key}.c3`, k);
    h = await convK(gelu(h), `${key}.c4`, 1);
    return residual ? g.op('Add', [x, h]) : h;
  };
  const channels = (t: string, a: number, b: number) => g.op('Slice', [t, g.int64s([a]), g.int64s([b]), g.int64s([1])]);
  /** Layer values [B, n] at `offset` of a flat [B, total] input, as [B, zdim, res, res]. */
  const layer = (input: string, offset: number, res: number) => {
    const n = cfg.zdim * res * res;
    return g.op('Reshape', [g.op('Slice', [input, g.int64s([offset]), g.int64s([offset + n]), g.int64s([1])]), g.int64s([-1, cfg.zdim, res, res])]);
  };
  /** mean + exp(log std)·ε, as vae_helpers.py draw_gaussian_diag_samples with ε given. */
  const gaussian = (mean: string, logStd: string, eps: string) => g.op('Add', [g.op('Mul', [g.op('Exp', [logStd]), eps]), mean]);
  /** The block's input: the running activation of its resolution, plus the lower one upsampled (nearest) where it mixes one in. */
  const blockInput = (xs: Map<number, string>, res: number, mixin: number | null) => {
    const x = xs.get(res) as string;
    if (mixin === null) return x;
    const low = xs.get(mixin) as string;
    return g.op('Add', [x, g.op('Resize', [low, '', g.floats([1, 1, res / mixin, res / mixin], [4], 'scales')], { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' })]);
  };
  /** DecBlock after z is known: the prior's residual, the projection of z, the residual Block. */
  const finishBlock = async (x: string, priorResidual: string, z: string, key: string, res: number) =>
    block(g.op('Add', [g.op('Add', [x, priorResidual]), await convK(z, `${key}.z_proj`, 1)]), `${key}.resnet`, res, true);
  return { w, floats, input, toFloat32, convK, block, channels, layer, gaussian, blockInput, finishBlock };
}

/**
 * Builds the decoder graph (checkVdvaeCheckpoint first). The prior temperature is not in the graph:
 * the caller scales the standard-normal `prior_noise` by it (exp(log std)·t·ε = exp(log std)·(t·ε)),
 * as the pipeline does with the stage's `priorTemperature` setting.
 */
export async function buildVdvaeDecoderGraph(ck: Checkpoint, cfg: VdvaeConfig, opts: { precision?: GraphPrecision } = {}): Promise<GraphBuilder> {
  checkVdvaeCheckpoint(ck, cfg);
  const precision = opts.precision ?? 'float32';
  const g = new GraphBuilder(`vdvae_decoder${precision === 'float16' ? '_f16' : ''}`);
  g.metadata.model = `${cfg.name} top-down decoder (openai/vdvae), pixels sampled from the mixture of logistics with the given uniform draws, ${precision} weights`;
  const ops = vdvaeOps(g, ck, vdvaeDecoderShapes(cfg), cfg, precision);
  const s = cfg.imageSize;
  const nm = cfg.numMixtures;
  const sizes = vdvaeLatentSizes(cfg);
  g.input('latents', 'float32', ['batch', sizes.decoded]).input('prior_noise', 'float32', ['batch', sizes.prior]);
  g.input('mix_uniform', 'float32', ['batch', s, s, nm]).input('pixel_uniform', 'float32', ['batch', s, s, 3]);
  const zdim = cfg.zdim;
  const latents = ops.input('latents');
  const priorNoise = ops.input('prior_noise');
  // xs[res]: the running activation of each resolution, starting from its learned bias (tiled over the batch by broadcasting).
  const batchZeros = g.op('Mul', [g.op('Reshape', [g.op('Slice', [latents, g.int64s([0]), g.int64s([1]), g.int64s([1])]), g.int64s([-1, 1, 1, 1])]), ops.floats([0], 'zero')]);
  const xs = new Map<number, string>();
  for (const [j, r] of resolutions(cfg).entries()) xs.set(r, g.op('Add', [batchZeros, await ops.w(`${D}bias_xs.${j}`)]));
  let offDecoded = 0;
  let offPrior = 0;
  for (const [i, [res, mixin]] of parseBlocks(cfg.decBlocks).entries()) {
    const key = `${D}dec_blocks.${i}`;
    const x = ops.blockInput(xs, res, mixin);
    const feats = await ops.block(x, `${key}.prior`, res, false);
    let z: string;
    if (i < cfg.decodedLayers) {
      z = ops.layer(latents, offDecoded, res);
      offDecoded += zdim * res * res;
    } else {
      z = ops.gaussian(ops.channels(feats, 0, zdim), ops.channels(feats, zdim, 2 * zdim), ops.layer(priorNoise, offPrior, res));
      offPrior += zdim * res * res;
    }
    xs.set(res, await ops.finishBlock(x, ops.channels(feats, 2 * zdim, 2 * zdim + cfg.width), z, key, res));
  }
  // Output: gain/bias, 1x1 conv to the mixture's parameters, NHWC, float32 from here on.
  const top = g.op('Add', [g.op('Mul', [xs.get(s) as string, await ops.w(`${D}gain`)]), await ops.w(`${D}bias`)]);
  const l = g.op('Transpose', [ops.toFloat32(await ops.convK(top, `${D}out_net.out_conv`, 1))], { perm: [0, 2, 3, 1] });
  const logits = g.op('Slice', [l, g.int64s([0]), g.int64s([nm]), g.int64s([3])]);
  const params = g.op('Reshape', [g.op('Slice', [l, g.int64s([nm]), g.int64s([10 * nm]), g.int64s([3])]), g.int64s([-1, s, s, 3, 3 * nm])]);
  // The component: argmax of logits − log(−log u) (Gumbel-max), one-hot, broadcast over the 3 channels.
  const gumbel = g.op('Log', [g.op('Neg', [g.op('Log', ['mix_uniform'])])]);
  const idx = g.op('ArgMax', [g.op('Sub', [logits, gumbel])], { axis: 3, keepdims: 0 });
  const sel = g.op('Unsqueeze', [g.op('OneHot', [idx, g.int64s([nm]), g.floats([0, 1], [2], 'onehot')], { axis: -1 }), g.int64s([3])]);
  const pick = (a: number, f?: (t: string) => string) => {
    const p = g.op('Slice', [params, g.int64s([a * nm]), g.int64s([(a + 1) * nm]), g.int64s([4])]);
    return g.op('ReduceSum', [g.op('Mul', [f ? f(p) : p, sel]), g.int64s([4])], { keepdims: 0 });
  };
  const one = g.floats([1], [], 'one_scalar');
  // The logistic sample: mean + exp(max(log scale, −7))·(log u − log(1 − u)); u = 0.5 gives the mean.
  const logScales = g.op('Max', [pick(1), g.floats([-7], [], 'min_log_scale')]);
  const logit = g.op('Sub', [g.op('Log', ['pixel_uniform']), g.op('Log', [g.op('Sub', [one, 'pixel_uniform'])])]);
  const x = g.op('Add', [pick(0), g.op('Mul', [g.op('Exp', [logScales]), logit])]);
  const coeffs = pick(2, (p) => g.op('Tanh', [p]));
  const ch = (t: string, c: number) => g.op('Slice', [t, g.int64s([c]), g.int64s([c + 1]), g.int64s([3])]);
  const lo = g.floats([-1], [], 'minus_one');
  const clip = (t: string) => g.op('Clip', [t, lo, one]);
  const x0 = clip(ch(x, 0));
  const x1 = clip(g.op('Add', [ch(x, 1), g.op('Mul', [ch(coeffs, 0), x0])]));
  const x2 = clip(g.op('Add', [g.op('Add', [ch(x, 2), g.op('Mul', [ch(coeffs, 1), x0])]), g.op('Mul', [ch(coeffs, 2), x1])]));
  g.op('Concat', [x0, x1, x2], { axis: 3 }, 'px');
  g.output('px', 'float32', ['batch', s, s, 3]);
  return g;
}

/**
 * Builds the encoder graph (checkVdvaeEncoderCheckpoint first): pixels [B, S, S, 3] (NHWC, already
 * (value + inputShift)·inputScale) and posterior_noise [B, decoded] -> latents [B, decoded].
 */
export async function buildVdvaeEncoderGraph(ck: Checkpoint, cfg: VdvaeConfig, opts: { precision?: GraphPrecision } = {}): Promise<GraphBuilder> {
  checkVdvaeEncoderCheckpoint(ck, cfg);
  const precision = opts.precision ?? 'float32';
  const g = new GraphBuilder(`vdvae_encoder${precision === 'float16' ? '_f16' : ''}`);
  g.metadata.model = `${cfg.name} encoder (openai/vdvae): posterior samples of the first ${cfg.decodedLayers} latent layers, ${precision} weights`;
  const ops = vdvaeOps(g, ck, vdvaeEncoderShapes(cfg), cfg, precision);
  const s = cfg.imageSize;
  const decoded = vdvaeLatentSizes(cfg).decoded;
  g.input('pixels', 'float32', ['batch', s, s, 3]).input('posterior_noise', 'float32', ['batch', decoded]);
  // Bottom-up: activations[res] is the output of the last block at that resolution (vae.py Encoder.forward).
  const noise = ops.input('posterior_noise');
  let x = await ops.convK(g.op('Transpose', [ops.input('pixels')], { perm: [0, 3, 1, 2] }), `${E}in_conv`, 3);
  const acts = new Map<number, string>([[s, x]]);
  for (const [i, [res, down]] of parseBlocks(requireEncoder(cfg)).entries()) {
    x = await ops.block(x, `${E}enc_blocks.${i}`, res, true);
    if (down !== null) x = g.op('AveragePool', [x], { kernel_shape: [down, down], strides: [down, down] });
    acts.set(down === null ? res : res / down, x);
  }
  // Top-down over the decoded layers, as vae.py DecBlock.forward: z from the posterior of [x, activations].
  const zdim = cfg.zdim;
  const blocks = parseBlocks(cfg.decBlocks).slice(0, cfg.decodedLayers);
  const xs = new Map<number, string>();
  const used = new Set(blocks.map(([r]) => r));
  for (const [j, r] of resolutions(cfg).entries()) {
    const a = acts.get(r);
    if (!used.has(r)) continue;
    if (!a) throw new BundleError(cfg.name, `the encoder has no ${r}x${r} activations`, { field: 'encBlocks', expected: `a block at resolution ${r}` });
    // The learned start, tiled over the batch (get_inputs repeats it to the activations' batch).
    xs.set(r, g.op('Expand', [await ops.w(`${D}bias_xs.${j}`), g.op('Shape', [a])]));
  }
  const zs: string[] = [];
  let off = 0;
  for (const [i, [res, mixin]] of blocks.entries()) {
    const key = `${D}dec_blocks.${i}`;
    const xin = ops.blockInput(xs, res, mixin);
    const q = await ops.block(g.op('Concat', [xin, acts.get(res) as string], { axis: 1 }), `${key}.enc`, res, false);
    const z = ops.gaussian(ops.channels(q, 0, zdim), ops.channels(q, zdim, 2 * zdim), ops.layer(noise, off, res));
    off += zdim * res * res;
    zs.push(g.op('Reshape', [z, g.int64s([0, -1])]));
    if (i === blocks.length - 1) break; // the last decoded layer's z needs nothing after it
    const feats = await ops.block(xin, `${key}.prior`, res, false);
    xs.set(res, await ops.finishBlock(xin, ops.channels(feats, 2 * zdim, 2 * zdim + cfg.width), z, key, res));
  }
  ops.toFloat32(g.op('Concat', zs, { axis: 1 }), 'latents');
  g.output('latents', 'float32', ['batch', decoded]);
  return g;
}

// The building blocks Stable Cascade's stage C and stage B share (Pernias et al., 2024, "Würstchen:
// An Efficient Architecture for Large-Scale Text-to-Image Diffusion Models"; the public
// Stability-AI/StableCascade `modules/common.py`), as GraphBuilder helpers reading the checkpoint's
// tensors under their official keys:
// - LayerNorm2d: LayerNorm over channels, no affine, ε 1e-6;
// - ResBlock: depthwise k x k conv, LayerNorm2d, [concat skip], Linear c+skip -> 4c, GELU (erf),
//   GlobalResponseNorm, Linear 4c -> c, plus the input;
// - GlobalResponseNorm (Woo et al., 2023, ConvNeXt V2): x·(γ·N + 1) + β with N the per-channel L2
//   norm over the plane divided by its mean over channels (+1e-6);
// - TimestepBlock: x·(1 + a) + b, [a, b] the sum of one Linear per chunk of the r embedding
//   (r itself, then one chunk per extra condition such as 'sca', 'crp');
// - AttnBlock: x + MultiheadAttention(LN(x), kv, kv) with kv = Linear(SiLU(cond)), and with
//   self_attn the keys/values are [LN(x); kv];
// - FeedForwardBlock: x + Linear(GRN(GELU(Linear(LN(x))))).
// - the sinusoidal r embedding (r·10000 through 32 log-spaced frequencies, [sin, cos]).
// Activations are kept channels-last, [B, H, W, C], inside the graphs: every Linear is one MatMul on
// the last axis and LayerNorm is ONNX's LayerNormalization over it; only the depthwise convolution
// transposes to NCHW and back. Each helper has a twin `*Shapes` declaring the tensors it reads, so
// parameter counts and checkpoint checks come from the same place as the graph.
import { BundleError } from '../../../base/errors.ts';
import { conv2d, GraphBuilder } from '../../../onnx/builder.ts';
import { encodeFloat16 } from '../../../tensor/float16.ts';
import { matrix, transpose } from '../../../tensor/matrix.ts';
import type { Checkpoint } from '../checkpoint.ts';

/** Weights and arithmetic in float32 (every backend) or float16 (WebGPU with shader-f16). */
export type CascadePrecision = 'float32' | 'float16';

// ONNX TensorProto data types, for Cast.
const FLOAT = 1;
const HALF = 10;
const LN_EPS = 1e-6;

/** Tensor key -> shape, in the order a graph reads them. */
export type ShapeMap = Map<string, number[]>;

export const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Parameters of every tensor declared in a shape map. */
export function countParams(shapes: ShapeMap): number {
  let n = 0;
  for (const s of shapes.values()) n += numel(s);
  return n;
}

/**
 * A graph under construction plus where its weights come from: the checkpoint (read one tensor at a
 * time), the shapes the config declares (checked again at read time), the precision.
 */
export class CascadeGraph {
  readonly g: GraphBuilder;
  readonly f16: boolean;
  private readonly consts = new Map<string, string>();
  /** Initializers already made from the checkpoint: a block applied twice in one graph (stage B's block_repeat) reads its weights once. */
  private readonly made = new Set<string>();
  private done = 0;

  constructor(
    name: string,
    readonly ck: Checkpoint,
    readonly shapes: ShapeMap,
    readonly precision: CascadePrecision,
    private readonly onTensor?: (key: string, done: number) => void,
  ) {
    this.g = new GraphBuilder(name);
    this.f16 = precision === 'float16';
  }

  /** The graph's float element type, as an ONNX dtype and as a Cast target. */
  get dtype(): 'float32' | 'float16' {
    return this.precision;
  }

  /** A constant in the graph's float type; scalars and small vectors are shared by value. */
  konst(data: ArrayLike<number>, dims: number[], prefix = 'c'): string {
    const key = `${dims.join('x')}:${Array.from(data).join(',')}`;
    const small = data.length <= 16;
    const hit = small ? this.consts.get(key) : undefined;
    if (hit) return hit;
    const name = this.g.fresh(prefix);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    if (this.f16) this.g.initializer(name, encodeFloat16(f32), dims, 'float16');
    else this.g.initializer(name, f32, dims);
    if (small) this.consts.set(key, name);
    return name;
  }

  /** Float32 input -> the graph's float type. */
  fromFloat(x: string): string {
    return this.f16 ? this.g.op('Cast', [x], { to: HALF }) : x;
  }

  /** The graph's float type -> a named float32 output. */
  toFloat(x: string, name: string): string {
    return this.g.op(this.f16 ? 'Cast' : 'Identity', [x], this.f16 ? { to: FLOAT } : undefined, name);
  }

  private async load(key: string): Promise<{ data: Float32Array; shape: number[] }> {
    const shape = this.shapes.get(key);
    if (!shape) throw new Error(`CascadeGraph(${this.g.name}): tensor ${key} is not declared by the config`);
    const t = this.ck.tensors.get(key);
    if (!t) throw new BundleError(this.ck.files.join(', ') || this.ck.label, 'missing tensor', { field: `tensor ${key}`, expected: `shape [${shape.join(', ')}]` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${key}`, expected: `[${shape.join(', ')}]` });
    }
    const data = await this.ck.read(key);
    this.onTensor?.(key, ++this.done);
    return { data, shape };
  }

  private init(name: string, data: Float32Array, dims: number[]): string {
    this.made.add(name);
    if (this.f16) this.g.initializer(name, encodeFloat16(data), dims, 'float16');
    else this.g.initializer(name, data, dims);
    return name;
  }

  /** The checkpoint tensor as an initializer, reshaped to `as` when given (same element count). */
  async weight(key: string, as?: number[]): Promise<string> {
    if (this.made.has(key)) return key;
    const { data, shape } = await this.load(key);
    return this.init(key, data, as ?? shape);
  }

  /**
   * A Linear (or 1x1 conv) weight [out, in(, 1, 1)] stored transposed [in, out], optionally only
   * rows [from, to) of `out` (the q/k/v thirds of MultiheadAttention's in_proj_weight).
   */
  async weightT(key: string, rows?: [number, number], suffix = '.T'): Promise<string> {
    if (this.made.has(`${key}${suffix}`)) return `${key}${suffix}`;
    const { data, shape } = await this.load(key);
    const cols = numel(shape.slice(1));
    const [a, b] = rows ?? [0, shape[0]];
    const t = transpose(matrix(b - a, cols, data.subarray(a * cols, b * cols))).data;
    return this.init(`${key}${suffix}`, t, [cols, b - a]);
  }

  /** A slice [from, to) of a 1-D checkpoint tensor (the q/k/v thirds of in_proj_bias). */
  async weightSlice(key: string, from: number, to: number, suffix: string): Promise<string> {
    if (this.made.has(`${key}${suffix}`)) return `${key}${suffix}`;
    const { data } = await this.load(key);
    return this.init(`${key}${suffix}`, data.slice(from, to), [to - from]);
  }

  /** x [..., in] -> x·Wᵀ + b, with `${prefix}.weight` [out, in(, 1, 1)] and `${prefix}.bias`. */
  async linear(x: string, prefix: string, bias = true): Promise<string> {
    const y = this.g.op('MatMul', [x, await this.weightT(`${prefix}.weight`)]);
    return bias ? this.g.op('Add', [y, await this.weight(`${prefix}.bias`)]) : y;
  }

  /** LayerNorm over the last axis without affine parameters (LayerNorm2d on channels-last). */
  layerNorm(x: string, channels: number, eps = LN_EPS): string {
    const ones = this.konst(new Float32Array(channels).fill(1), [channels], 'ln_one');
    return this.g.op('LayerNormalization', [x, ones], { axis: -1, epsilon: { float: eps } });
  }

  /** GELU with erf (torch's nn.GELU default): x·(1 + erf(x/√2))/2. */
  gelu(x: string): string {
    const g = this.g;
    const inner = g.op('Erf', [g.op('Mul', [x, this.konst([Math.SQRT1_2], [1], 'inv_sqrt2')])]);
    return g.op('Mul', [g.op('Mul', [x, this.konst([0.5], [1], 'half')]), g.op('Add', [inner, this.konst([1], [1], 'one')])]);
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** Slice along one axis. */
  slice(x: string, axis: number, from: number, to: number): string {
    const g = this.g;
    return g.op('Slice', [x, g.int64s([from]), g.int64s([to]), g.int64s([axis])]);
  }
}

// ---------------------------------------------------------------- declarations (config -> tensors)

const lin = (m: ShapeMap, p: string, out: number, inp: number, bias = true) => {
  m.set(`${p}.weight`, [out, inp]);
  if (bias) m.set(`${p}.bias`, [out]);
};

/** A 1x1 convolution's tensors (stored by the checkpoint as [out, in, 1, 1]). */
export function conv1x1Shapes(m: ShapeMap, p: string, out: number, inp: number): void {
  m.set(`${p}.weight`, [out, inp, 1, 1]);
  m.set(`${p}.bias`, [out]);
}

/** The channelwise MLP of ResBlock / FeedForwardBlock: Linear, GELU, GRN, (Dropout), Linear. */
function channelwiseShapes(m: ShapeMap, p: string, c: number, cIn: number): void {
  lin(m, `${p}.channelwise.0`, 4 * c, cIn);
  m.set(`${p}.channelwise.2.gamma`, [1, 1, 1, 4 * c]);
  m.set(`${p}.channelwise.2.beta`, [1, 1, 1, 4 * c]);
  lin(m, `${p}.channelwise.4`, c, 4 * c);
}

export function resBlockShapes(m: ShapeMap, p: string, c: number, cSkip = 0, kernel = 3): void {
  m.set(`${p}.depthwise.weight`, [c, 1, kernel, kernel]);
  m.set(`${p}.depthwise.bias`, [c]);
  channelwiseShapes(m, p, c, c + cSkip);
}

export function feedForwardShapes(m: ShapeMap, p: string, c: number): void {
  channelwiseShapes(m, p, c, c);
}

export function timestepBlockShapes(m: ShapeMap, p: string, c: number, cR: number, conds: readonly string[]): void {
  lin(m, `${p}.mapper`, 2 * c, cR);
  for (const name of conds) lin(m, `${p}.mapper_${name}`, 2 * c, cR);
}

export function attnBlockShapes(m: ShapeMap, p: string, c: number, cCond: number): void {
  lin(m, `${p}.kv_mapper.1`, c, cCond);
  m.set(`${p}.attention.attn.in_proj_weight`, [3 * c, c]);
  m.set(`${p}.attention.attn.in_proj_bias`, [3 * c]);
  lin(m, `${p}.attention.attn.out_proj`, c, c);
}

// ---------------------------------------------------------------------------- graph helpers (NHWC)

/** GlobalResponseNorm on [B, H, W, C]; the plane's L2 norm is taken in float32 (a float16 sum of 576 squares can overflow). */
export async function globalResponseNorm(cg: CascadeGraph, x: string, p: string): Promise<string> {
  const g = cg.g;
  const x32 = cg.f16 ? g.op('Cast', [x], { to: FLOAT }) : x;
  const gx = g.op('ReduceL2', [x32], { axes: [1, 2], keepdims: 1 });
  const mean = g.op('ReduceMean', [gx], { axes: [-1], keepdims: 1 });
  let nx = g.op('Div', [gx, g.op('Add', [mean, g.floats([1e-6], [1], 'grn_eps')])]);
  if (cg.f16) nx = g.op('Cast', [nx], { to: HALF });
  // γ·(x·N) + β + x
  const scaled = g.op('Mul', [await cg.weight(`${p}.gamma`), g.op('Mul', [x, nx])]);
  return g.op('Add', [g.op('Add', [scaled, await cg.weight(`${p}.beta`)]), x]);
}

async function channelwise(cg: CascadeGraph, x: string, p: string): Promise<string> {
  const h = cg.gelu(await cg.linear(x, `${p}.channelwise.0`));
  return cg.linear(await globalResponseNorm(cg, h, `${p}.channelwise.2`), `${p}.channelwise.4`);
}

/** ResBlock on [B, H, W, c]; `skip` [B, H, W, cSkip] is concatenated after the norm (up path). */
export async function resBlock(cg: CascadeGraph, p: string, x: string, c: number, skip?: string, kernel = 3): Promise<string> {
  const g = cg.g;
  const nchw = g.op('Transpose', [x], { perm: [0, 3, 1, 2] });
  const pad = Math.floor(kernel / 2);
  const dw = conv2d(g, [nchw, await cg.weight(`${p}.depthwise.weight`), await cg.weight(`${p}.depthwise.bias`)], [kernel, kernel], { pads: [pad, pad, pad, pad], group: c });
  let h = cg.layerNorm(g.op('Transpose', [dw], { perm: [0, 2, 3, 1] }), c);
  if (skip) h = g.op('Concat', [h, skip], { axis: -1 });
  return g.op('Add', [await channelwise(cg, h, p), x]);
}

export async function feedForwardBlock(cg: CascadeGraph, p: string, x: string, c: number): Promise<string> {
  return cg.g.op('Add', [x, await channelwise(cg, cg.layerNorm(x, c), p)]);
}

/**
 * TimestepBlock on [B, H, W, c] with `rEmbed` [B, cR·(1 + conds)]: chunk 0 feeds `mapper`, chunk
 * i + 1 feeds `mapper_<conds[i]>`; the [a, b] halves of all of them are summed.
 */
export async function timestepBlock(cg: CascadeGraph, p: string, x: string, rEmbed: string, c: number, cR: number, conds: readonly string[]): Promise<string> {
  const g = cg.g;
  const names = ['mapper', ...conds.map((n) => `mapper_${n}`)];
  let ab = '';
  for (const [i, m] of names.entries()) {
    const y = await cg.linear(cg.slice(rEmbed, 1, i * cR, (i + 1) * cR), `${p}.${m}`);
    ab = ab ? g.op('Add', [ab, y]) : y;
  }
  const ab4 = g.op('Reshape', [ab, g.int64s([0, 1, 1, 2 * c])]);
  const a = cg.slice(ab4, 3, 0, c);
  const b = cg.slice(ab4, 3, c, 2 * c);
  return g.op('Add', [g.op('Mul', [x, g.op('Add', [a, cg.konst([1], [1], 'one')])]), b]);
}

/**
 * AttnBlock on [B, H, W, c] attending to `cond` [B, S, cCond]: kv = Linear(SiLU(cond)), with
 * self-attention the keys/values are [LN(x) as tokens; kv]; torch's MultiheadAttention (packed
 * in_proj, q scaled by 1/√(c/nhead), out_proj), added to x.
 */
export async function attnBlock(cg: CascadeGraph, p: string, x: string, cond: string, c: number, nhead: number, selfAttn = true): Promise<string> {
  const g = cg.g;
  const hd = c / nhead;
  if (!Number.isInteger(hd)) throw new RangeError(`attnBlock ${p}: ${c} channels do not split into ${nhead} heads`);
  const kvm = await cg.linear(cg.silu(cond), `${p}.kv_mapper.1`);
  const q0 = g.op('Reshape', [cg.layerNorm(x, c), g.int64s([0, -1, c])]);
  const kv = selfAttn ? g.op('Concat', [q0, kvm], { axis: 1 }) : kvm;
  const a = `${p}.attention.attn`;
  const proj = async (t: string, i: number, tag: string) =>
    g.op('Add', [g.op('MatMul', [t, await cg.weightT(`${a}.in_proj_weight`, [i * c, (i + 1) * c], `.${tag}.T`)]), await cg.weightSlice(`${a}.in_proj_bias`, i * c, (i + 1) * c, `.${tag}`)]);
  const heads = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, g.int64s([0, 0, nhead, hd])])], { perm });
  const q = heads(g.op('Mul', [await proj(q0, 0, 'q'), cg.konst([1 / Math.sqrt(hd)], [1], 'attn_scale')]), [0, 2, 1, 3]);
  const kT = heads(await proj(kv, 1, 'k'), [0, 2, 3, 1]);
  const v = heads(await proj(kv, 2, 'v'), [0, 2, 1, 3]);
  const attn = g.op('Softmax', [g.op('MatMul', [q, kT])], { axis: -1 });
  const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [attn, v])], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, c])]);
  const out = await cg.linear(ctx, `${a}.out_proj`);
  return g.op('Add', [x, g.op('Reshape', [out, g.op('Shape', [x])])]);
}

/**
 * The sinusoidal embedding of r [B] (gen_r_embedding): r·10000 times exp(−i·ln(10000)/(cR/2 − 1)),
 * i < cR/2, then [sin, cos] (a zero column when cR is odd). Computed in float32.
 */
export function rEmbedding(g: GraphBuilder, r: string, cR: number, maxPositions = 10000): string {
  const half = Math.floor(cR / 2);
  const step = Math.log(maxPositions) / (half - 1);
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp(-i * step));
  const rr = g.op('Mul', [g.op('Unsqueeze', [r, g.int64s([1])]), g.floats([maxPositions], [1], 'max_pos')]);
  const e = g.op('Mul', [rr, g.floats(freqs, [1, half], 'r_freqs')]);
  const parts = [g.op('Sin', [e]), g.op('Cos', [e])];
  if (cR % 2 === 1) parts.push(g.op('Mul', [g.op('Slice', [e, g.int64s([0]), g.int64s([1]), g.int64s([1])]), g.floats([0], [1], 'zero')]));
  return g.op('Concat', parts, { axis: 1 });
}

/**
 * r's embedding followed by one per extra condition (`t_conds`), each a zero vector like r unless
 * given, as the reference's forward does when the condition is not passed: [B, cR·(1 + conds)].
 */
export function rEmbeddings(g: GraphBuilder, r: string, cR: number, conds: readonly string[], given: Partial<Record<string, string>> = {}): string {
  const zeros = conds.some((n) => !given[n]) ? g.op('Mul', [r, g.floats([0], [1], 'zero')]) : '';
  return g.op('Concat', [rEmbedding(g, r, cR), ...conds.map((n) => rEmbedding(g, given[n] ?? zeros, cR))], { axis: 1 });
}

// ------------------------------------------------------------- a block by its level_config letter

/** What stage B and C pass to every block (the fields both configs share). */
export interface BlockSettings {
  name: string;
  cR: number;
  cCond: number;
  tConds: readonly string[];
  kernelSize: number;
  selfAttn: boolean;
}

/** The tensors of a block given by its level_config letter: C ResBlock, T TimestepBlock, A AttnBlock, F FeedForwardBlock. */
export function typedBlockShapes(m: ShapeMap, s: BlockSettings, p: string, type: string, c: number, cSkip: number): void {
  if (type === 'C') resBlockShapes(m, p, c, cSkip, s.kernelSize);
  else if (type === 'T') timestepBlockShapes(m, p, c, s.cR, s.tConds);
  else if (type === 'A') attnBlockShapes(m, p, c, s.cCond);
  else if (type === 'F') feedForwardShapes(m, p, c);
  else throw new RangeError(`${s.name}: block type ${type} is not one of C, T, A, F`);
}

/**
 * Multiply-adds of one block by its letter for one sample at `positions` latent positions, with
 * `condTokens` conditioning tokens (the matrix products, convolutions and attention; norms and
 * activations are not counted): what per-step time scales with, for stage B's and C's projections.
 */
export function typedBlockMacs(s: BlockSettings, type: string, positions: number, c: number, cSkip: number, condTokens: number): number {
  const S = positions;
  if (type === 'C') return S * c * s.kernelSize ** 2 + S * (c + cSkip) * 4 * c + S * 4 * c * c;
  if (type === 'T') return (1 + s.tConds.length) * s.cR * 2 * c;
  if (type === 'A') {
    const kv = s.selfAttn ? S + condTokens : condTokens;
    return condTokens * s.cCond * c + 2 * S * c * c + 2 * kv * c * c + 2 * S * kv * c;
  }
  if (type === 'F') return 8 * S * c * c;
  throw new RangeError(`${s.name}: block type ${type} is not one of C, T, A, F`);
}

/** The slots a block reads besides the hidden state: the r embedding (T) or the conditioning (A). */
export function typedBlockReads(type: string): string[] {
  return type === 'T' ? ['r_embed'] : type === 'A' ? ['cond'] : [];
}

/** Applies a block given by its letter to x [B, H, W, c]; `skip` only for a ResBlock with c_skip. */
export async function typedBlock(
  cg: CascadeGraph,
  s: BlockSettings,
  p: string,
  type: string,
  x: string,
  c: number,
  nhead: number,
  ctx: { rEmbed?: () => string; cond?: () => string; skip?: string },
): Promise<string> {
  const need = (v: (() => string) | undefined, what: string) => {
    if (!v) throw new Error(`${s.name}: block ${p} (${type}) needs ${what}`);
    return v();
  };
  if (type === 'C') return resBlock(cg, p, x, c, ctx.skip, s.kernelSize);
  if (type === 'T') return timestepBlock(cg, p, x, need(ctx.rEmbed, 'the r embedding'), c, s.cR, s.tConds);
  if (type === 'A') return attnBlock(cg, p, x, need(ctx.cond, 'the conditioning'), c, nhead, s.selfAttn);
  if (type === 'F') return feedForwardBlock(cg, p, x, c);
  throw new RangeError(`${s.name}: block type ${type} is not one of C, T, A, F`);
}

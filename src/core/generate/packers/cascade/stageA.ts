// Stable Cascade's stage A (Pernias et al., 2024, "Würstchen"; Stability-AI/StableCascade
// modules/stage_a.py): a VQGAN whose decoder turns stage B's 4-channel latents into pixels, as the
// `pixelDecoder` stage: latents [B, 4, 256, 256] -> images [B, 3, 1024, 1024] in [0, 1].
// What the reference's decode does, in order: multiply by scale_factor (0.43), a 1x1 conv to the
// widest level, `bottleneck_blocks` ResBlocks there, then per level a 4x4 stride-2 transposed conv
// and one ResBlock, a 1x1 conv to 12 channels and PixelShuffle(2). decode never quantizes: the
// vector quantizer is only used by encode(quantize=True) in training, so its codebook is counted
// but not read. The clamp to [0, 1] is what the training/inference code applies to decode's output
// (train_b.py decode_latents), part of our contract.
// Stage A's ResBlock is its own (not modules/common.py's): LayerNorm without affine (ε 1e-6) scaled
// by (1 + γ0) and shifted by γ1, a depthwise 3x3 conv over a replication-padded input times γ2
// added; LayerNorm · (1 + γ3) + γ4, Linear c -> 4c, GELU, Linear 4c -> c, times γ5 added — the six
// γ in one `gammas` tensor. Activations run channels-last like blocks.ts.
import { conv2d, type GraphBuilder } from '../../../onnx/builder.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { CascadeGraph, countParams, type ShapeMap } from './blocks.ts';
import type { StageBuildOptions, StagePartGraph } from './pack.ts';
import { checkCascadeCheckpoint, onePart } from './stageFiles.ts';

export interface StageAConfig {
  name: string;
  levels: number;
  bottleneckBlocks: number;
  cHidden: number;
  cLatent: number;
  codebookSize: number;
  scaleFactor: number;
  /** Latent side the graph is declared for (stage B's output: 256 for 1024 px). */
  latentSize: number;
  /**
   * Decode in horizontal strips of this many latent rows (each with `stageAHalo` rows of context on
   * both sides, cropped after decoding) instead of in one pass: the same images, but the largest
   * activation (the ResBlock MLP's 4·192 channels at 512², 805 MB an image in float32) shrinks with
   * the strip, so stage A fits a WebGPU adapter's buffer limit. Absent: one pass.
   */
  stripRows?: number;
  /** Context rows per strip side; default `stageAHalo(cfg)`, its receptive field (a smaller one only to show it matters). */
  stripHalo?: number;
}

/** StageA() as stage_a.safetensors was trained (the constructor defaults, used unchanged by train_b.py and the notebooks). */
export const STAGE_A: StageAConfig = { name: 'Stable Cascade stage A', levels: 2, bottleneckBlocks: 12, cHidden: 384, cLatent: 4, codebookSize: 8192, scaleFactor: 0.43, latentSize: 256 };

/** Channels per level, narrowest first (c_hidden / 2^i, reversed). */
export function stageALevels(cfg: StageAConfig): number[] {
  return Array.from({ length: cfg.levels }, (_, i) => cfg.cHidden / 2 ** (cfg.levels - 1 - i));
}

export function stageAImageSize(cfg: StageAConfig): number {
  return cfg.latentSize * 2 ** (cfg.levels - 1) * 2;
}

function resBlockShapes(m: ShapeMap, p: string, c: number): void {
  m.set(`${p}.gammas`, [6]);
  m.set(`${p}.depthwise.1.weight`, [c, 1, 3, 3]);
  m.set(`${p}.depthwise.1.bias`, [c]);
  m.set(`${p}.channelwise.0.weight`, [4 * c, c]);
  m.set(`${p}.channelwise.0.bias`, [4 * c]);
  m.set(`${p}.channelwise.2.weight`, [c, 4 * c]);
  m.set(`${p}.channelwise.2.bias`, [c]);
}

/** The decoder's tensors (what the pixelDecoder graph reads), in up_blocks order. */
export function stageADecoderShapes(cfg: StageAConfig): ShapeMap {
  const c = stageALevels(cfg);
  const L = cfg.levels;
  const m: ShapeMap = new Map();
  m.set('up_blocks.0.0.weight', [c[L - 1], cfg.cLatent, 1, 1]);
  m.set('up_blocks.0.0.bias', [c[L - 1]]);
  let n = 1;
  for (let i = 0; i < L; i++) {
    const ci = c[L - 1 - i];
    for (let j = 0; j < (i === 0 ? cfg.bottleneckBlocks : 1); j++) resBlockShapes(m, `up_blocks.${n++}`, ci);
    if (i < L - 1) {
      m.set(`up_blocks.${n}.weight`, [ci, c[L - 2 - i], 4, 4]);
      m.set(`up_blocks.${n++}.bias`, [c[L - 2 - i]]);
    }
  }
  m.set('out_block.0.weight', [12, c[0], 1, 1]);
  m.set('out_block.0.bias', [12]);
  return m;
}

/** Every parameter of the VQGAN as trained: encoder, codebook and decoder (BatchNorm's running stats are buffers, not counted). */
export function stageAShapes(cfg: StageAConfig): ShapeMap {
  const c = stageALevels(cfg);
  const m: ShapeMap = new Map([
    ['in_block.1.weight', [c[0], 12, 1, 1]],
    ['in_block.1.bias', [c[0]]],
  ]);
  let n = 0;
  for (let i = 0; i < cfg.levels; i++) {
    if (i > 0) {
      m.set(`down_blocks.${n}.weight`, [c[i], c[i - 1], 4, 4]);
      m.set(`down_blocks.${n++}.bias`, [c[i]]);
    }
    resBlockShapes(m, `down_blocks.${n++}`, c[i]);
  }
  m.set(`down_blocks.${n}.0.weight`, [cfg.cLatent, c[cfg.levels - 1], 1, 1]);
  m.set(`down_blocks.${n}.1.weight`, [cfg.cLatent]);
  m.set(`down_blocks.${n}.1.bias`, [cfg.cLatent]);
  m.set('vquantizer.codebook.weight', [cfg.codebookSize, cfg.cLatent]);
  for (const [k, s] of stageADecoderShapes(cfg)) m.set(k, s);
  return m;
}

/** Parameter counts from the config alone: the whole VQGAN and the decoder the graph holds. */
export function stageAParamCount(cfg: StageAConfig): { total: number; decoder: number } {
  return { total: countParams(stageAShapes(cfg)), decoder: countParams(stageADecoderShapes(cfg)) };
}

/** The file is a stage A checkpoint of this config (a stage B / effnet file is named as such). */
export function checkStageACheckpoint(ck: Checkpoint, cfg: StageAConfig): void {
  checkCascadeCheckpoint(ck, 'stageA', stageADecoderShapes(cfg), cfg.name);
}

async function resBlock(cg: CascadeGraph, p: string, x: string, c: number): Promise<string> {
  const g = cg.g;
  const gammas = await cg.weight(`${p}.gammas`);
  const gam = (i: number) => cg.slice(gammas, 0, i, i + 1);
  const one = cg.konst([1], [1], 'one');
  const mod = (t: string, i: number) => g.op('Add', [g.op('Mul', [cg.layerNorm(t, c), g.op('Add', [one, gam(i)])]), gam(i + 1)]);
  // Depthwise 3x3 over an edge-replicated border (ReplicationPad2d(1)), in NCHW.
  const nchw = g.op('Transpose', [mod(x, 0)], { perm: [0, 3, 1, 2] });
  const padded = g.op('Pad', [nchw, g.int64s([0, 0, 1, 1, 0, 0, 1, 1])], { mode: 'edge' });
  const dw = conv2d(g, [padded, await cg.weight(`${p}.depthwise.1.weight`), await cg.weight(`${p}.depthwise.1.bias`)], [3, 3], { group: c });
  x = g.op('Add', [x, g.op('Mul', [g.op('Transpose', [dw], { perm: [0, 2, 3, 1] }), gam(2)])]);
  const h = await cg.linear(cg.gelu(await cg.linear(mod(x, 3), `${p}.channelwise.0`)), `${p}.channelwise.2`);
  return g.op('Add', [x, g.op('Mul', [h, gam(5)])]);
}

/**
 * Latent rows on each side that one output row depends on: a 3x3 depthwise conv per bottleneck
 * ResBlock (one row each), then per upsampling level the 4x4 stride-2 transposed conv (one row of
 * its input) and that level's ResBlock (half a row or less, rounded up to one). The decoder has no
 * global operation (its LayerNorms are per pixel over channels, the MLPs per pixel), so strips with
 * this much context decode exactly what the whole image does.
 */
export function stageAHalo(cfg: StageAConfig): number {
  return cfg.bottleneckBlocks + 2 * (cfg.levels - 1);
}

/** The strips [from, to) of latent rows a config decodes, with the context rows [lo, hi) each reads. */
export function stageAStrips(cfg: StageAConfig): { from: number; to: number; lo: number; hi: number }[] {
  const S = cfg.latentSize;
  const rows = cfg.stripRows ?? S;
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${cfg.name}: stripRows ${rows} (expected a positive whole number of latent rows)`);
  const halo = cfg.stripHalo ?? stageAHalo(cfg);
  const out: { from: number; to: number; lo: number; hi: number }[] = [];
  for (let from = 0; from < S; from += rows) {
    const to = Math.min(S, from + rows);
    out.push({ from, to, lo: Math.max(0, from - halo), hi: Math.min(S, to + halo) });
  }
  return out;
}

/**
 * Bytes of the decoder's largest activation for `batch` images (`bytes` per value: 4 float32, 2
 * float16): the ResBlock MLP's 4·c channels at each level's resolution over the tallest strip's rows;
 * the last level's is the largest (c halves, the area quadruples). One WebGPU buffer must hold it.
 */
export function stageAPeakBytes(cfg: StageAConfig, batch: number, bytes: number): number {
  const c = stageALevels(cfg);
  const rows = Math.max(...stageAStrips(cfg).map((st) => st.hi - st.lo));
  let peak = 0;
  for (let i = 0; i < cfg.levels; i++) peak = Math.max(peak, 4 * c[cfg.levels - 1 - i] * rows * 2 ** i * cfg.latentSize * 2 ** i);
  return batch * bytes * peak;
}

/**
 * The pixelDecoder graph: `latents` float32 [batch, 4, S, S] -> `images` float32 [batch, 3, 4S, 4S]
 * (S = cfg.latentSize), clamped to [0, 1]. Checks the file first; reads each tensor once.
 */
export async function stageAGraph(ck: Checkpoint, cfg: StageAConfig = STAGE_A, opts: StageBuildOptions = {}): Promise<GraphBuilder> {
  checkStageACheckpoint(ck, cfg);
  const precision = opts.precision ?? 'float32';
  const shapes = stageADecoderShapes(cfg);
  const cg = new CascadeGraph(`stage_a_decoder${precision === 'float16' ? '_f16' : ''}`, ck, shapes, precision, (k, d) => opts.onTensor?.(k, d, shapes.size));
  const g = cg.g;
  g.metadata.model = `${cfg.name} decoder (Stability-AI/StableCascade StageA.decode, clamped to [0, 1]), ${precision}`;
  const c = stageALevels(cfg);
  const L = cfg.levels;
  const s = cfg.latentSize;
  g.input('latents', 'float32', ['batch', cfg.cLatent, s, s]);
  const toNhwc = (t: string) => g.op('Transpose', [t], { perm: [0, 2, 3, 1] });
  const toNchw = (t: string) => g.op('Transpose', [t], { perm: [0, 3, 1, 2] });
  const scaled = g.op('Mul', [toNhwc(cg.fromFloat('latents')), cg.konst([cfg.scaleFactor], [1], 'scale_factor')]);
  // [batch, rows, S, 4] channels-last latents -> [batch, 3, 4·rows, 4·S] pixels (before the clamp).
  const decode = async (x: string): Promise<string> => {
    x = await cg.linear(x, 'up_blocks.0.0');
    let n = 1;
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < (i === 0 ? cfg.bottleneckBlocks : 1); j++) x = await resBlock(cg, `up_blocks.${n++}`, x, c[L - 1 - i]);
      if (i < L - 1) {
        const p = `up_blocks.${n++}`;
        const up = g.op('ConvTranspose', [toNchw(x), await cg.weight(`${p}.weight`), await cg.weight(`${p}.bias`)], {
          kernel_shape: [4, 4],
          strides: [2, 2],
          pads: [1, 1, 1, 1],
          dilations: [1, 1],
          group: 1,
          output_padding: [0, 0],
        });
        x = toNhwc(up);
      }
    }
    // 1x1 conv to 12 channels, then PixelShuffle(2), which is DepthToSpace in CRD order.
    return g.op('DepthToSpace', [toNchw(await cg.linear(x, 'out_block.0'))], { blocksize: 2, mode: 'CRD' });
  };
  const strips = stageAStrips(cfg);
  let rgb: string;
  if (strips.length === 1) rgb = await decode(scaled);
  else {
    // Each strip decodes its rows with context, then keeps its own rows; the weights are shared
    // initializers, so the graph holds them once. (Strips run one after the other in the session.)
    const up = stageAImageSize(cfg) / s;
    const pieces: string[] = [];
    for (const st of strips) {
      const px = await decode(cg.slice(scaled, 1, st.lo, st.hi));
      pieces.push(cg.slice(px, 2, (st.from - st.lo) * up, (st.to - st.lo) * up));
    }
    rgb = g.op('Concat', pieces, { axis: 2 });
  }
  cg.toFloat(g.op('Clip', [rgb, cg.konst([0], [], 'zero'), cg.konst([1], [], 'one_s')]), 'images');
  const size = stageAImageSize(cfg);
  g.output('images', 'float32', ['batch', 3, size, size]);
  return g;
}

/** The pixelDecoder stage as pack.ts's builders yield it: one graph (15.7 M parameters never need a split). */
export async function* buildStageA(ck: Checkpoint, cfg: StageAConfig = STAGE_A, opts: StageBuildOptions = {}): AsyncGenerator<StagePartGraph> {
  const size = stageAImageSize(cfg);
  yield onePart('stage_a', await stageAGraph(ck, cfg, opts), countParams(stageADecoderShapes(cfg)), opts, {
    inputs: { latents: { name: 'latents', dtype: 'float32', shape: ['batch', cfg.cLatent, cfg.latentSize, cfg.latentSize] } },
    outputs: { images: { name: 'images', dtype: 'float32', shape: ['batch', 3, size, size] } },
  });
}

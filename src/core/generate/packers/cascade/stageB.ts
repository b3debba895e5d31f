// Stable Cascade's stage B (Pernias et al., 2024; Stability-AI/StableCascade `modules/stage_b.py`),
// the diffusion decoder from stage C's 16x24x24 latent to stage A's 4x256x256 latent, as the
// `latentDecoder` stage: x [B, 4, 256, 256], r [B], effnet [B, 16, 24, 24], clip [B, 1, 1280]
// -> pred [B, 4, 256, 256] (ε).
// Forward, as the reference does it: the pooled CLIP text through a Linear to 4 tokens of c_cond,
// layer-normed; r embedded with the sinusoidal embedding followed by that of 'sca' (zero: MIRAGE
// never passes it); x PixelUnshuffle(2) + 1x1 conv + LayerNorm2d; plus effnet resized bilinearly
// (align_corners) to that grid and mapped (1x1 conv to 4·c0, GELU, 1x1 conv, LayerNorm2d); plus the
// same kind of mapper applied to `pixels`, which our contract leaves at the reference's default
// (zeros [B, 3, 8, 8]): its output is one vector, identical at every position, so it is computed on
// a single zero pixel and broadcast (a bilinear resize of a constant is that constant). Then a
// four-level U-Net: down levels (LayerNorm2d + 2x2 stride-2 conv between levels) of CT / CTA block
// groups (ResBlock, TimestepBlock, AttnBlock) applied `block_repeat` times with a 1x1 "repeat
// mapper" conv between repeats; up levels the same in reverse (LayerNorm2d + 2x2 stride-2
// transposed conv between levels), the first ResBlock of each up level but the deepest
// concatenating the matching down level's output at every repeat; LayerNorm2d, a 1x1 conv and
// PixelShuffle(2). Built as units over blocks.ts and split.ts, so the 1.5B model can be cut into
// parts like stage C.
import { BundleError } from '../../../base/errors.ts';
import { conv2d } from '../../../onnx/builder.ts';
import type { TensorSpec } from '../../modelPack.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { conv1x1Shapes, countParams, rEmbeddings, typedBlock, typedBlockMacs, typedBlockReads, typedBlockShapes, type CascadeGraph, type ShapeMap } from './blocks.ts';
import type { StageBuildOptions, StagePartGraph } from './pack.ts';
import { buildChain, clfHeadUnit, paramsWithPrefix, type ChainUnit, type Slots } from './split.ts';
import { checkCascadeCheckpoint } from './stageFiles.ts';

export interface StageBConfig {
  name: string;
  cIn: number;
  cOut: number;
  cR: number;
  patchSize: number;
  cCond: number;
  cHidden: number[];
  /** Heads per level (-1 where the level has no attention). */
  nhead: number[];
  /** [down blocks per level, up blocks per level listed deepest first] (the reference reads blocks[1] reversed by level). */
  blocks: [number[], number[]];
  /** How often each level's block list runs: [down per level, up per level listed deepest first]. */
  blockRepeat: [number[], number[]];
  /** Block types per level: C = ResBlock, T = TimestepBlock, A = AttnBlock, F = FeedForwardBlock. */
  levelConfig: string[];
  cClip: number;
  cClipSeq: number;
  cEffnet: number;
  cPixels: number;
  kernelSize: number;
  selfAttn: boolean;
  tConds: string[];
  /** Latent side of x (256 for 1024 px) and of the effnet condition (24). */
  latentSize: number;
  effnetSize: number;
}

/** train_b.py model_version '3B' (`stage_b.safetensors`, `stage_b_bf16.safetensors`): 1,562,941,136 parameters (the readme's "1.5 billion"). */
export const STAGE_B_FULL: StageBConfig = {
  name: 'Stable Cascade stage B (1.5B)',
  cIn: 4,
  cOut: 4,
  cR: 64,
  patchSize: 2,
  cCond: 1280,
  cHidden: [320, 640, 1280, 1280],
  nhead: [-1, -1, 20, 20],
  blocks: [
    [2, 6, 28, 6],
    [6, 28, 6, 2],
  ],
  blockRepeat: [
    [1, 1, 1, 1],
    [3, 3, 2, 2],
  ],
  levelConfig: ['CT', 'CT', 'CTA', 'CTA'],
  cClip: 1280,
  cClipSeq: 4,
  cEffnet: 16,
  cPixels: 3,
  kernelSize: 3,
  selfAttn: true,
  tConds: ['sca'],
  latentSize: 256,
  effnetSize: 24,
};

/** train_b.py model_version '700M' (`stage_b_lite.safetensors`, `stage_b_lite_bf16.safetensors`): 699,471,248 parameters. */
export const STAGE_B_LITE: StageBConfig = {
  ...STAGE_B_FULL,
  name: 'Stable Cascade stage B lite (700M)',
  cHidden: [320, 576, 1152, 1152],
  nhead: [-1, 9, 18, 18],
  blocks: [
    [2, 4, 14, 4],
    [4, 14, 4, 2],
  ],
  blockRepeat: [
    [1, 1, 1, 1],
    [2, 2, 2, 2],
  ],
};

const levels = (cfg: StageBConfig) => cfg.cHidden.length;
/** Up-path counts for a level: the lists are read reversed by level, as the reference does. */
const upOf = (list: number[], level: number) => list[list.length - 1 - level];

/** Every tensor stage B reads, in forward order, under the official key names. */
export function stageBShapes(cfg: StageBConfig): ShapeMap {
  const m: ShapeMap = new Map();
  const ch = cfg.cHidden;
  const L = levels(cfg);
  const mapper = (p: string, cIn: number) => {
    conv1x1Shapes(m, `${p}.0`, 4 * ch[0], cIn);
    conv1x1Shapes(m, `${p}.2`, ch[0], 4 * ch[0]);
  };
  m.set('clip_mapper.weight', [cfg.cCond * cfg.cClipSeq, cfg.cClip]);
  m.set('clip_mapper.bias', [cfg.cCond * cfg.cClipSeq]);
  conv1x1Shapes(m, 'embedding.1', ch[0], cfg.cIn * cfg.patchSize ** 2);
  mapper('effnet_mapper', cfg.cEffnet);
  mapper('pixels_mapper', cfg.cPixels);
  const conv2x2 = (p: string, out: number, inp: number, transposed: boolean) => {
    m.set(`${p}.weight`, transposed ? [inp, out, 2, 2] : [out, inp, 2, 2]);
    m.set(`${p}.bias`, [out]);
  };
  for (let i = 0; i < L; i++) {
    if (i > 0) conv2x2(`down_downscalers.${i}.1`, ch[i], ch[i - 1], false);
    const types = cfg.levelConfig[i];
    for (let n = 0; n < cfg.blocks[0][i] * types.length; n++) typedBlockShapes(m, cfg, `down_blocks.${i}.${n}`, types[n % types.length], ch[i], 0);
    for (let r = 0; r < cfg.blockRepeat[0][i] - 1; r++) conv1x1Shapes(m, `down_repeat_mappers.${i}.${r}`, ch[i], ch[i]);
  }
  for (let u = 0; u < L; u++) {
    const i = L - 1 - u;
    const types = cfg.levelConfig[i];
    for (let n = 0; n < upOf(cfg.blocks[1], i) * types.length; n++) typedBlockShapes(m, cfg, `up_blocks.${u}.${n}`, types[n % types.length], ch[i], n === 0 && i < L - 1 ? ch[i] : 0);
    for (let r = 0; r < upOf(cfg.blockRepeat[1], i) - 1; r++) conv1x1Shapes(m, `up_repeat_mappers.${u}.${r}`, ch[i], ch[i]);
    if (i > 0) conv2x2(`up_upscalers.${u}.1`, ch[i - 1], ch[i], true);
  }
  conv1x1Shapes(m, 'clf.1', cfg.cOut * cfg.patchSize ** 2, ch[0]);
  return m;
}

export function stageBParamCount(cfg: StageBConfig): number {
  return countParams(stageBShapes(cfg));
}

/** Widths per level as the checkpoint's down-scalers and embedding say. */
function foundWidths(ck: Checkpoint): number[] {
  const w = [ck.tensors.get('embedding.1.weight')?.shape[0] ?? 0];
  for (let i = 1; ck.tensors.has(`down_downscalers.${i}.1.weight`); i++) w.push(ck.tensors.get(`down_downscalers.${i}.1.weight`)?.shape[0] ?? 0);
  return w;
}

/**
 * A file of another stage is named as such; the other stage B variant (lite given for full or the
 * reverse) by its widths; then every tensor's presence and shape.
 */
export function checkStageBCheckpoint(ck: Checkpoint, cfg: StageBConfig): void {
  const widths = foundWidths(ck);
  if (ck.tensors.has('effnet_mapper.0.weight') && widths.some((w, i) => w !== cfg.cHidden[i])) {
    const known = [STAGE_B_FULL, STAGE_B_LITE].find((k) => k.cHidden.length === widths.length && k.cHidden.every((w, i) => w === widths[i]));
    throw new BundleError(ck.tensors.get('embedding.1.weight')?.file ?? ck.label, `the checkpoint is ${known ? known.name : 'another stage B'} (c_hidden [${widths.join(', ')}])`, {
      field: 'tensor down_downscalers.*.1.weight',
      expected: `${cfg.name} (c_hidden [${cfg.cHidden.join(', ')}])`,
    });
  }
  checkCascadeCheckpoint(ck, 'stageB', stageBShapes(cfg), cfg.name);
}

/**
 * Multiply-adds of one forward pass for `batch` samples, counted as stageCMacs counts them (matrix
 * products, convolutions, attention; not norms or activations): the embedding and effnet mapper at
 * the level-0 grid, every block at its level's grid times its repeats with the repeat mappers, the
 * 2x2 down and up convolutions, the head. The pixels mapper runs on one position (see the unit).
 */
export function stageBMacs(cfg: StageBConfig, batch: number): number {
  const ch = cfg.cHidden;
  const L = levels(cfg);
  const S = (level: number) => (cfg.latentSize / cfg.patchSize / 2 ** level) ** 2;
  const block = (type: string, level: number, skip: number) => typedBlockMacs(cfg, type, S(level), ch[level], skip, cfg.cClipSeq);
  const mapper = (positions: number, cIn: number) => positions * (cIn * 4 * ch[0] + 4 * ch[0] * ch[0]);
  let n = cfg.cClip * cfg.cCond * cfg.cClipSeq + S(0) * cfg.cIn * cfg.patchSize ** 2 * ch[0] + mapper(S(0), cfg.cEffnet) + mapper(1, cfg.cPixels);
  for (let i = 0; i < L; i++) {
    const types = cfg.levelConfig[i];
    if (i > 0) n += S(i) * ch[i - 1] * 4 * ch[i];
    const repeats = cfg.blockRepeat[0][i];
    for (let k = 0; k < cfg.blocks[0][i] * types.length; k++) n += repeats * block(types[k % types.length], i, 0);
    n += (repeats - 1) * S(i) * ch[i] * ch[i];
  }
  for (let u = 0; u < L; u++) {
    const i = L - 1 - u;
    const types = cfg.levelConfig[i];
    const repeats = upOf(cfg.blockRepeat[1], i);
    for (let k = 0; k < upOf(cfg.blocks[1], i) * types.length; k++) n += repeats * block(types[k % types.length], i, k === 0 && i < L - 1 ? ch[i] : 0);
    n += (repeats - 1) * S(i) * ch[i] * ch[i];
    if (i > 0) n += S(i) * ch[i] * 4 * ch[i - 1];
  }
  return batch * (n + S(0) * ch[0] * cfg.cOut * cfg.patchSize ** 2);
}

/** The stage's ONNX inputs and output (float32 at both ends, whatever the precision inside). */
export function stageBSignature(cfg: StageBConfig): { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> } {
  const s = cfg.latentSize;
  const e = cfg.effnetSize;
  const f = (name: string, shape: TensorSpec['shape']): TensorSpec => ({ name, dtype: 'float32', shape });
  return {
    inputs: { x: f('x', ['batch', cfg.cIn, s, s]), r: f('r', ['batch']), effnet: f('effnet', ['batch', cfg.cEffnet, e, e]), clip: f('clip', ['batch', 1, cfg.cClip]) },
    outputs: { pred: f('pred', ['batch', cfg.cOut, s, s]) },
  };
}

/** A mapper (1x1 conv to 4·c0, GELU, 1x1 conv to c0, LayerNorm2d) on channels-last input. */
async function mapper(cg: CascadeGraph, p: string, x: string, c0: number): Promise<string> {
  return cg.layerNorm(await cg.linear(cg.gelu(await cg.linear(x, `${p}.0`)), `${p}.2`), c0);
}

/** The network as a chain of units over the slots h, cond, r_embed and skip_<level>. */
export function stageBUnits(cfg: StageBConfig, shapes: ShapeMap): ChainUnit[] {
  const ch = cfg.cHidden;
  const L = levels(cfg);
  const p2 = cfg.patchSize;
  const grid = (level: number) => cfg.latentSize / p2 / 2 ** level;
  const hShape = (level: number, c = ch[level]) => ['batch', grid(level), grid(level), c];
  const paramsOf = (...prefixes: string[]) => paramsWithPrefix(shapes, ...prefixes);
  const units: ChainUnit[] = [];
  units.push({
    label: 'conditioning + embedding',
    params: paramsOf('clip_mapper.', 'embedding.', 'effnet_mapper.', 'pixels_mapper.'),
    reads: ['x', 'r', 'effnet', 'clip'],
    writes: ['h', 'cond', 'r_embed'],
    async run(cg, st) {
      const g = cg.g;
      const clip = g.op('Reshape', [await cg.linear(cg.fromFloat(st.get('clip')), 'clip_mapper'), g.int64s([0, -1, cfg.cCond])]);
      st.set('cond', cg.layerNorm(clip, cfg.cCond), ['batch', cfg.cClipSeq, cfg.cCond]);
      st.set('r_embed', cg.fromFloat(rEmbeddings(g, st.get('r'), cfg.cR, cfg.tConds)), ['batch', cfg.cR * (1 + cfg.tConds.length)]);
      // PixelUnshuffle(p) straight to channels-last: [B, C, H, W] -> [B, C, H/p, p, W/p, p] ->
      // [B, H/p, W/p, C, p, p] -> [B, H/p, W/p, C·p·p] (channel c·p² + i·p + j, as PixelUnshuffle orders them).
      const n0 = grid(0);
      const blocks = g.op('Reshape', [cg.fromFloat(st.get('x')), g.int64s([0, cfg.cIn, n0, p2, n0, p2])]);
      const unshuffled = g.op('Reshape', [g.op('Transpose', [blocks], { perm: [0, 2, 4, 1, 3, 5] }), g.int64s([0, n0, n0, cfg.cIn * p2 * p2])]);
      let h = cg.layerNorm(await cg.linear(unshuffled, 'embedding.1'), ch[0]);
      // effnet resized to the grid (bilinear, align_corners), then mapped, as the reference orders them.
      const effnet = g.op('Resize', [cg.fromFloat(st.get('effnet')), '', '', g.op('Concat', [g.op('Slice', [g.op('Shape', [st.get('effnet')]), g.int64s([0]), g.int64s([2]), g.int64s([0])]), g.int64s([n0, n0])], { axis: 0 })], {
        mode: 'linear',
        coordinate_transformation_mode: 'align_corners',
      });
      h = g.op('Add', [h, await mapper(cg, 'effnet_mapper', g.op('Transpose', [effnet], { perm: [0, 2, 3, 1] }), ch[0])]);
      // pixels = zeros: the mapper's output on one zero pixel, broadcast over the batch and the grid.
      h = g.op('Add', [h, await mapper(cg, 'pixels_mapper', cg.konst(new Float32Array(cfg.cPixels), [1, 1, 1, cfg.cPixels], 'zero_pixel'), ch[0])]);
      st.set('h', h, hShape(0));
    },
  });
  const blockUnit = (p: string, type: string, level: number, skip: number | null, repeat: number): ChainUnit => {
    const c = ch[level];
    return {
      label: repeat ? `${p} (repeat ${repeat})` : p,
      // A repeat runs the same weights again: held once in a part that already has them, stored
      // again in a later part (split.ts counts them by this identity).
      params: paramsOf(`${p}.`),
      weights: p,
      reads: ['h', ...typedBlockReads(type), ...(skip !== null ? [`skip_${skip}`] : [])],
      writes: ['h'],
      async run(cg: CascadeGraph, st: Slots) {
        const ctx = { rEmbed: () => st.get('r_embed'), cond: () => st.get('cond'), skip: skip !== null ? st.get(`skip_${skip}`) : undefined };
        st.set('h', await typedBlock(cg, cfg, p, type, st.get('h'), c, cfg.nhead[level], ctx), hShape(level));
      },
    };
  };
  const linearUnit = (p: string, level: number): ChainUnit => ({
    label: p,
    params: paramsOf(`${p}.`),
    reads: ['h'],
    writes: ['h'],
    run: async (cg, st) => st.set('h', await cg.linear(st.get('h'), p), hShape(level)),
  });
  /** LayerNorm2d, then a 2x2 stride-2 conv (down) or transposed conv (up), in NCHW. */
  const rescale = (p: string, from: number, to: number, up: boolean): ChainUnit => ({
    label: p,
    params: paramsOf(`${p}.`),
    reads: ['h'],
    writes: ['h'],
    async run(cg, st) {
      const g = cg.g;
      const nchw = g.op('Transpose', [cg.layerNorm(st.get('h'), ch[from])], { perm: [0, 3, 1, 2] });
      const w = [await cg.weight(`${p}.weight`), await cg.weight(`${p}.bias`)];
      const y = up
        ? g.op('ConvTranspose', [nchw, ...w], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1, output_padding: [0, 0] })
        : conv2d(g, [nchw, ...w], [2, 2], { strides: [2, 2] });
      st.set('h', g.op('Transpose', [y], { perm: [0, 2, 3, 1] }), hShape(to));
    },
  });
  for (let i = 0; i < L; i++) {
    if (i > 0) units.push(rescale(`down_downscalers.${i}.1`, i - 1, i, false));
    const types = cfg.levelConfig[i];
    const repeats = cfg.blockRepeat[0][i];
    for (let r = 0; r < repeats; r++) {
      for (let n = 0; n < cfg.blocks[0][i] * types.length; n++) units.push(blockUnit(`down_blocks.${i}.${n}`, types[n % types.length], i, null, r));
      if (r < repeats - 1) units.push(linearUnit(`down_repeat_mappers.${i}.${r}`, i));
    }
    if (i < L - 1) units.push({ label: `skip ${i}`, params: 0, reads: ['h'], writes: [`skip_${i}`], run: async (_cg, st) => st.set(`skip_${i}`, st.get('h'), hShape(i)) });
  }
  for (let u = 0; u < L; u++) {
    const i = L - 1 - u;
    const types = cfg.levelConfig[i];
    const repeats = upOf(cfg.blockRepeat[1], i);
    for (let r = 0; r < repeats; r++) {
      for (let n = 0; n < upOf(cfg.blocks[1], i) * types.length; n++) {
        const type = types[n % types.length];
        units.push(blockUnit(`up_blocks.${u}.${n}`, type, i, n === 0 && i < L - 1 && type === 'C' ? i : null, r));
      }
      if (r < repeats - 1) units.push(linearUnit(`up_repeat_mappers.${u}.${r}`, i));
    }
    if (i > 0) units.push(rescale(`up_upscalers.${u}.1`, i, i - 1, true));
  }
  units.push(clfHeadUnit(shapes, ch[0], cfg.cOut, cfg.latentSize, p2));
  return units;
}

/** The `latentDecoder` stage: one graph, or consecutive parts under `opts.maxPartBytes` (split.ts). */
export async function* buildStageB(ck: Checkpoint, cfg: StageBConfig, opts: StageBuildOptions = {}): AsyncGenerator<StagePartGraph> {
  checkStageBCheckpoint(ck, cfg);
  const shapes = stageBShapes(cfg);
  yield* buildChain({ name: 'stage_b', ...stageBSignature(cfg), units: stageBUnits(cfg, shapes), shapes }, ck, opts);
}

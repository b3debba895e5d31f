// Stable Cascade's stage C, the text- and image-conditional prior on the 16x24x24 latent
// (Pernias et al., 2024; Stability-AI/StableCascade `modules/stage_c.py`), as the `priorDenoiser`
// stage: x [B, 16, 24, 24], r [B], clip_text [B, 77, 1280], clip_text_pooled [B, 1, 1280],
// clip_img [B, 1, 768] -> pred [B, 16, 24, 24] (ε). The conditioning is the three CLIP inputs
// mapped to c_cond (the pooled text and the image to 4 tokens each), concatenated (85 tokens) and
// layer-normed; r is embedded with the sinusoidal embedding, followed by those of the extra
// conditions 'sca' and 'crp' (zero here, as in MIRAGE's sampling). The body is a two-level U-Net
// without resampling (switch_level False): down levels of CTA triplets (ResBlock, TimestepBlock,
// AttnBlock), then up levels, the first ResBlock of each shallower up level concatenating the
// matching down level's output; a 1x1 head. Config-driven, so tests run it reduced.
import { BundleError } from '../../../base/errors.ts';
import type { TensorSpec } from '../../modelPack.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { conv1x1Shapes, countParams, rEmbeddings, typedBlock, typedBlockMacs, typedBlockReads, typedBlockShapes, type ShapeMap } from './blocks.ts';
import type { StageBuildOptions, StagePartGraph } from './pack.ts';
import { buildChain, clfHeadUnit, paramsWithPrefix, type ChainSpec, type ChainUnit } from './split.ts';
import { checkCascadeCheckpoint, identifyCascadeFile } from './stageFiles.ts';

export interface StageCConfig {
  /** Short name for messages ('Stable Cascade stage C (3.6B)'). */
  name: string;
  cIn: number;
  cOut: number;
  cR: number;
  cCond: number;
  cHidden: number[];
  nhead: number[];
  /** [down blocks per level, up blocks per level (listed shallow to deep, as the reference does)]. */
  blocks: [number[], number[]];
  /** Block types per level: C = ResBlock, T = TimestepBlock, A = AttnBlock, F = FeedForwardBlock. */
  levelConfig: string[];
  cClipText: number;
  cClipTextPooled: number;
  cClipImg: number;
  cClipSeq: number;
  /**
   * CLIP text tokens in clip_text (77 as published). The network reads them through a per-token
   * Linear, so a reduced config may take fewer (the browser spec sizes them to the demo's text head).
   */
  textTokens: number;
  kernelSize: number;
  selfAttn: boolean;
  tConds: string[];
  /** Latent side (24 for 1024x1024 images). */
  latentSize: number;
}

/** StageC() defaults: the 3.6B model (`stage_c.safetensors`, `stage_c_bf16.safetensors`). */
export const STAGE_C_FULL: StageCConfig = {
  name: 'Stable Cascade stage C (3.6B)',
  cIn: 16,
  cOut: 16,
  cR: 64,
  cCond: 2048,
  cHidden: [2048, 2048],
  nhead: [32, 32],
  blocks: [
    [8, 24],
    [24, 8],
  ],
  levelConfig: ['CTA', 'CTA'],
  cClipText: 1280,
  cClipTextPooled: 1280,
  cClipImg: 768,
  cClipSeq: 4,
  textTokens: 77,
  kernelSize: 3,
  selfAttn: true,
  tConds: ['sca', 'crp'],
  latentSize: 24,
};

/** The 1B lite model (`stage_c_lite.safetensors`; train_c.py's model_version '1B'). */
export const STAGE_C_LITE: StageCConfig = {
  ...STAGE_C_FULL,
  name: 'Stable Cascade stage C lite (1B)',
  cCond: 1536,
  cHidden: [1536, 1536],
  nhead: [24, 24],
  blocks: [
    [4, 12],
    [12, 4],
  ],
};

/** Up-path block counts deepest level first: the reference reads blocks[1] reversed by level. */
const upBlocks = (cfg: StageCConfig, level: number) => cfg.blocks[1][cfg.blocks[1].length - 1 - level];
const levels = (cfg: StageCConfig) => cfg.cHidden.length;

/** Every tensor stage C reads, in forward order, under the official key names. */
export function stageCShapes(cfg: StageCConfig): ShapeMap {
  const m: ShapeMap = new Map();
  const { cCond, cHidden: ch } = cfg;
  const lin = (p: string, out: number, inp: number) => {
    m.set(`${p}.weight`, [out, inp]);
    m.set(`${p}.bias`, [out]);
  };
  lin('clip_txt_mapper', cCond, cfg.cClipText);
  lin('clip_txt_pooled_mapper', cCond * cfg.cClipSeq, cfg.cClipTextPooled);
  lin('clip_img_mapper', cCond * cfg.cClipSeq, cfg.cClipImg);
  conv1x1Shapes(m, 'embedding.1', ch[0], cfg.cIn);
  const block = (p: string, type: string, level: number, cSkip: number) => typedBlockShapes(m, cfg, p, type, ch[level], cSkip);
  for (let i = 0; i < levels(cfg); i++) {
    if (i > 0) conv1x1Shapes(m, `down_downscalers.${i}.1.blocks.0`, ch[i], ch[i - 1]);
    const types = cfg.levelConfig[i];
    for (let n = 0; n < cfg.blocks[0][i] * types.length; n++) block(`down_blocks.${i}.${n}`, types[n % types.length], i, 0);
  }
  for (let u = 0; u < levels(cfg); u++) {
    const i = levels(cfg) - 1 - u;
    const types = cfg.levelConfig[i];
    for (let n = 0; n < upBlocks(cfg, i) * types.length; n++) block(`up_blocks.${u}.${n}`, types[n % types.length], i, n === 0 && i < levels(cfg) - 1 ? ch[i] : 0);
    if (i > 0) conv1x1Shapes(m, `up_upscalers.${u}.1.blocks.1`, ch[i - 1], ch[i]);
  }
  conv1x1Shapes(m, 'clf.1', cfg.cOut, ch[0]);
  return m;
}

export function stageCParamCount(cfg: StageCConfig): number {
  return countParams(stageCShapes(cfg));
}

/**
 * Multiply-adds of one forward pass for `batch` samples (the matrix products, convolutions and
 * attention; norms and activations are not counted): what per-step time scales with.
 */
export function stageCMacs(cfg: StageCConfig, batch: number): number {
  const S = cfg.latentSize ** 2;
  const T = cfg.textTokens + 2 * cfg.cClipSeq;
  const { cCond: cc, cHidden: ch } = cfg;
  let n = cfg.textTokens * cfg.cClipText * cc + cfg.cClipSeq * cc * (cfg.cClipTextPooled + cfg.cClipImg) + S * cfg.cIn * ch[0];
  const block = (type: string, c: number, skip: number) => typedBlockMacs(cfg, type, S, c, skip, T);
  for (let i = 0; i < levels(cfg); i++) {
    const t = cfg.levelConfig[i];
    if (i > 0) n += S * ch[i - 1] * ch[i];
    for (let k = 0; k < cfg.blocks[0][i] * t.length; k++) n += block(t[k % t.length], ch[i], 0);
  }
  for (let u = 0; u < levels(cfg); u++) {
    const i = levels(cfg) - 1 - u;
    const t = cfg.levelConfig[i];
    for (let k = 0; k < upBlocks(cfg, i) * t.length; k++) n += block(t[k % t.length], ch[i], k === 0 && i < levels(cfg) - 1 ? ch[i] : 0);
    if (i > 0) n += S * ch[i] * ch[i - 1];
  }
  return batch * (n + S * ch[0] * cfg.cOut);
}

const fmt = (c: { width: number; down: number[] }) => `width ${c.width}, down blocks [${c.down.join(', ')}]`;

/**
 * What the checkpoint is, compared with the config: a file of another stage (stageFiles.ts) or the
 * other stage C variant (lite given for full) is named as such; then every tensor's presence and shape.
 */
export function checkStageCCheckpoint(ck: Checkpoint, cfg: StageCConfig): void {
  const shapes = stageCShapes(cfg);
  const kind = identifyCascadeFile(ck)?.kind;
  const emb = ck.tensors.get('embedding.1.weight');
  if (kind === 'stageC' && emb) {
    const count = (level: number) => {
      let n = 0;
      while (ck.tensors.has(`down_blocks.${level}.${n}.depthwise.weight`) || ck.tensors.has(`down_blocks.${level}.${n}.mapper.weight`) || ck.tensors.has(`down_blocks.${level}.${n}.kv_mapper.1.weight`)) n++;
      return n / cfg.levelConfig[level].length;
    };
    const found = { width: emb.shape[0], down: cfg.blocks[0].map((_, i) => count(i)) };
    const want = { width: cfg.cHidden[0], down: cfg.blocks[0] };
    if (found.width !== want.width || found.down.some((d, i) => d !== want.down[i])) {
      const known = [STAGE_C_FULL, STAGE_C_LITE].find((k) => k.cHidden[0] === found.width && k.blocks[0].every((d, i) => d === found.down[i]));
      throw new BundleError(emb.file, `the checkpoint is ${known ? known.name : 'another stage C'} (${fmt(found)})`, { field: 'tensor embedding.1.weight', expected: `${cfg.name} (${fmt(want)})` });
    }
  }
  checkCascadeCheckpoint(ck, 'stageC', shapes, cfg.name);
}

/** The stage's ONNX inputs and output (float32 at both ends, whatever the precision inside). */
export function stageCSignature(cfg: StageCConfig): { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> } {
  const s = cfg.latentSize;
  const f = (name: string, shape: TensorSpec['shape']): TensorSpec => ({ name, dtype: 'float32', shape });
  return {
    inputs: {
      x: f('x', ['batch', cfg.cIn, s, s]),
      r: f('r', ['batch']),
      clip_text: f('clip_text', ['batch', cfg.textTokens, cfg.cClipText]),
      clip_text_pooled: f('clip_text_pooled', ['batch', 1, cfg.cClipTextPooled]),
      clip_img: f('clip_img', ['batch', 1, cfg.cClipImg]),
    },
    outputs: { pred: f('pred', ['batch', cfg.cOut, s, s]) },
  };
}

/** The network as a chain of units over the slots h, cond, r_embed and skip_<level>. */
export function stageCUnits(cfg: StageCConfig, shapes: ShapeMap): ChainUnit[] {
  const s = cfg.latentSize;
  const ch = cfg.cHidden;
  const paramsOf = (prefix: string) => paramsWithPrefix(shapes, prefix);
  const hShape = (c: number) => ['batch', s, s, c];
  const tokens = cfg.textTokens + 2 * cfg.cClipSeq;
  const units: ChainUnit[] = [];
  units.push({
    label: 'conditioning + embedding',
    params: ['clip_txt_mapper.', 'clip_txt_pooled_mapper.', 'clip_img_mapper.', 'embedding.'].reduce((a, p) => a + paramsOf(p), 0),
    reads: ['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img'],
    writes: ['h', 'cond', 'r_embed'],
    async run(cg, st) {
      const g = cg.g;
      const tokensOf = async (input: string, key: string) => g.op('Reshape', [await cg.linear(cg.fromFloat(st.get(input)), key), g.int64s([0, -1, cfg.cCond])]);
      const cond = g.op('Concat', [await tokensOf('clip_text', 'clip_txt_mapper'), await tokensOf('clip_text_pooled', 'clip_txt_pooled_mapper'), await tokensOf('clip_img', 'clip_img_mapper')], { axis: 1 });
      st.set('cond', cg.layerNorm(cond, cfg.cCond), ['batch', tokens, cfg.cCond]);
      st.set('r_embed', cg.fromFloat(rEmbeddings(g, st.get('r'), cfg.cR, cfg.tConds)), ['batch', cfg.cR * (1 + cfg.tConds.length)]);
      const nhwc = g.op('Transpose', [cg.fromFloat(st.get('x'))], { perm: [0, 2, 3, 1] });
      st.set('h', cg.layerNorm(await cg.linear(nhwc, 'embedding.1'), ch[0]), hShape(ch[0]));
    },
  });
  const blockUnit = (p: string, type: string, level: number, skip: number | null): ChainUnit => {
    const c = ch[level];
    return {
      label: p,
      params: paramsOf(`${p}.`),
      reads: ['h', ...typedBlockReads(type), ...(skip !== null ? [`skip_${skip}`] : [])],
      writes: ['h'],
      async run(cg, st) {
        const skipValue = skip !== null ? st.get(`skip_${skip}`) : undefined;
        const out = await typedBlock(cg, cfg, p, type, st.get('h'), c, cfg.nhead[level], { rEmbed: () => st.get('r_embed'), cond: () => st.get('cond'), skip: skipValue });
        st.set('h', out, hShape(c));
      },
    };
  };
  const rescale = (p: string, cIn: number, cOut: number): ChainUnit => ({
    label: p,
    params: paramsOf(`${p}.`),
    reads: ['h'],
    writes: ['h'],
    async run(cg, st) {
      st.set('h', await cg.linear(cg.layerNorm(st.get('h'), cIn), p), hShape(cOut));
    },
  });
  for (let i = 0; i < levels(cfg); i++) {
    if (i > 0) units.push(rescale(`down_downscalers.${i}.1.blocks.0`, ch[i - 1], ch[i]));
    const types = cfg.levelConfig[i];
    for (let n = 0; n < cfg.blocks[0][i] * types.length; n++) units.push(blockUnit(`down_blocks.${i}.${n}`, types[n % types.length], i, null));
    if (i < levels(cfg) - 1) {
      // The level's output, kept for the up path's first ResBlock of this level.
      units.push({ label: `skip ${i}`, params: 0, reads: ['h'], writes: [`skip_${i}`], run: async (_cg, st) => st.set(`skip_${i}`, st.get('h'), hShape(ch[i])) });
    }
  }
  for (let u = 0; u < levels(cfg); u++) {
    const i = levels(cfg) - 1 - u;
    const types = cfg.levelConfig[i];
    for (let n = 0; n < upBlocks(cfg, i) * types.length; n++) {
      const type = types[n % types.length];
      units.push(blockUnit(`up_blocks.${u}.${n}`, type, i, n === 0 && i < levels(cfg) - 1 && type === 'C' ? i : null));
    }
    if (i > 0) units.push(rescale(`up_upscalers.${u}.1.blocks.1`, ch[i], ch[i - 1]));
  }
  units.push(clfHeadUnit(shapes, ch[0], cfg.cOut, s, 1));
  return units;
}

/** The `priorDenoiser` stage: one graph, or consecutive parts under `opts.maxPartBytes` (split.ts). */
export async function* buildStageC(ck: Checkpoint, cfg: StageCConfig, opts: StageBuildOptions = {}): AsyncGenerator<StagePartGraph> {
  checkStageCCheckpoint(ck, cfg);
  const shapes = stageCShapes(cfg);
  const spec: ChainSpec = { name: 'stage_c', ...stageCSignature(cfg), units: stageCUnits(cfg, shapes), shapes };
  yield* buildChain(spec, ck, opts);
}

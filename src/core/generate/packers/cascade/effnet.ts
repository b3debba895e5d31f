// Stable Cascade's EfficientNet encoder (Stability-AI/StableCascade modules/effnet.py
// EfficientNetEncoder) as the `latentEncoder` stage: images [B, 3, 768, 768], ImageNet-normalised
// -> latents [B, 16, 24, 24], the stage C latent of an image (img2img starts from it).
// It is torchvision's EfficientNetV2-S `features` (Tan & Le, 2021, "EfficientNetV2: Smaller Models
// and Faster Training"), used in eval mode, then a 1x1 conv 1280 -> 16 without bias and a
// BatchNorm2d(16, affine=False) that standardises the latent with its running statistics.
// Backbone: a 3x3 stride-2 stem, Fused-MBConv stages (a k x k conv expanding, a 1x1 projecting; or
// one k x k conv when the ratio is 1), MBConv stages (1x1 expand, depthwise k x k, squeeze-and-
// excitation with ⌊in/4⌋ channels, 1x1 project), residuals where stride is 1 and widths match
// (stochastic depth is the identity in eval), a 1x1 conv to 1280; every conv is followed by
// BatchNorm (ε 1e-3) and all but the projections by SiLU. BatchNorm is folded into the convolution
// before it at build time (W·γ/√(σ²+ε), β − μ·γ/√(σ²+ε)), so the graph holds only convolutions.
import { BundleError } from '../../../base/errors.ts';
import { conv2d, type GraphBuilder } from '../../../onnx/builder.ts';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../preprocess.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { CascadeGraph, countParams, type ShapeMap } from './blocks.ts';
import type { StageBuildOptions, StagePartGraph } from './pack.ts';
import { checkCascadeCheckpoint, onePart } from './stageFiles.ts';

/** One row of torchvision's inverted_residual_setting: block kind, expansion, kernel, stride, widths, repeats. */
export interface EffnetStage {
  block: 'fused' | 'mb';
  expand: number;
  kernel: number;
  stride: number;
  cin: number;
  cout: number;
  layers: number;
}

export interface EffnetConfig {
  name: string;
  stages: EffnetStage[];
  /** Width of the last 1x1 conv (torchvision's last_channel). */
  lastChannels: number;
  cLatent: number;
  /** BatchNorm ε of the backbone (efficientnet_v2_s: 1e-3) and of the mapper (BatchNorm2d default 1e-5). */
  bnEps: number;
  mapperEps: number;
  imageSize: number;
}

const fused = (expand: number, stride: number, cin: number, cout: number, layers: number): EffnetStage => ({ block: 'fused', expand, kernel: 3, stride, cin, cout, layers });
const mb = (expand: number, stride: number, cin: number, cout: number, layers: number): EffnetStage => ({ block: 'mb', expand, kernel: 3, stride, cin, cout, layers });

/** torchvision efficientnet_v2_s (_efficientnet_conf) + StableCascade's mapper, at the 768 px the pipeline feeds. */
export const EFFNET_V2_S: EffnetConfig = {
  name: 'Stable Cascade EfficientNetV2-S encoder',
  stages: [fused(1, 1, 24, 24, 2), fused(4, 2, 24, 48, 4), fused(4, 2, 48, 64, 4), mb(4, 2, 64, 128, 6), mb(6, 1, 128, 160, 9), mb(6, 2, 160, 256, 15)],
  lastChannels: 1280,
  cLatent: 16,
  bnEps: 1e-3,
  mapperEps: 1e-5,
  imageSize: 768,
};

/** torchvision's _make_divisible(v, 8): the nearest multiple of 8, never more than 10 % below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

export function effnetLatentSize(cfg: EffnetConfig): number {
  return cfg.imageSize / cfg.stages.reduce((s, st) => s * st.stride, 2);
}

/** One conv (no bias) + BatchNorm, as Conv2dNormActivation stores them: `${p}.0.weight`, `${p}.1.*`. */
function convBnShapes(m: ShapeMap, p: string, cout: number, cin: number, k: number, groups = 1): void {
  m.set(`${p}.0.weight`, [cout, cin / groups, k, k]);
  for (const t of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${p}.1.${t}`, [cout]);
}

/** The layers of one block, in order, with what the graph does with each. */
type Layer =
  | { kind: 'conv'; p: string; cout: number; cin: number; k: number; stride: number; groups: number; act: boolean }
  | { kind: 'se'; p: string; channels: number; squeeze: number };

interface Block {
  layers: Layer[];
  residual: boolean;
}

/** Every block of the backbone (stem and head included) in torchvision's Sequential order. */
function effnetBlocks(cfg: EffnetConfig): Block[] {
  const B = 'backbone';
  const stem = cfg.stages[0].cin;
  const blocks: Block[] = [{ layers: [{ kind: 'conv', p: `${B}.0`, cout: stem, cin: 3, k: 3, stride: 2, groups: 1, act: true }], residual: false }];
  cfg.stages.forEach((st, s) => {
    for (let j = 0; j < st.layers; j++) {
      const cin = j === 0 ? st.cin : st.cout;
      const stride = j === 0 ? st.stride : 1;
      const exp = makeDivisible(cin * st.expand);
      const p = `${B}.${s + 1}.${j}.block`;
      const layers: Layer[] = [];
      const conv = (i: number, cout: number, ci: number, k: number, str: number, groups: number, act: boolean) => layers.push({ kind: 'conv', p: `${p}.${i}`, cout, cin: ci, k, stride: str, groups, act });
      if (st.block === 'fused') {
        if (exp !== cin) {
          conv(0, exp, cin, st.kernel, stride, 1, true);
          conv(1, st.cout, exp, 1, 1, 1, false);
        } else conv(0, st.cout, cin, st.kernel, stride, 1, true);
      } else {
        let i = 0;
        if (exp !== cin) conv(i++, exp, cin, 1, 1, 1, true);
        conv(i++, exp, exp, st.kernel, stride, exp, true);
        layers.push({ kind: 'se', p: `${p}.${i++}`, channels: exp, squeeze: Math.max(1, Math.floor(cin / 4)) });
        conv(i, st.cout, exp, 1, 1, 1, false);
      }
      blocks.push({ layers, residual: stride === 1 && cin === st.cout });
    }
  });
  const last = cfg.stages[cfg.stages.length - 1].cout;
  blocks.push({ layers: [{ kind: 'conv', p: `${B}.${cfg.stages.length + 1}`, cout: cfg.lastChannels, cin: last, k: 1, stride: 1, groups: 1, act: true }], residual: false });
  return blocks;
}

/** Every tensor the graph reads (BatchNorm running statistics included; num_batches_tracked is not read). */
export function effnetShapes(cfg: EffnetConfig): ShapeMap {
  const m: ShapeMap = new Map();
  for (const b of effnetBlocks(cfg)) {
    for (const l of b.layers) {
      if (l.kind === 'conv') convBnShapes(m, l.p, l.cout, l.cin, l.k, l.groups);
      else {
        m.set(`${l.p}.fc1.weight`, [l.squeeze, l.channels, 1, 1]);
        m.set(`${l.p}.fc1.bias`, [l.squeeze]);
        m.set(`${l.p}.fc2.weight`, [l.channels, l.squeeze, 1, 1]);
        m.set(`${l.p}.fc2.bias`, [l.channels]);
      }
    }
  }
  m.set('mapper.0.weight', [cfg.cLatent, cfg.lastChannels, 1, 1]);
  m.set('mapper.1.running_mean', [cfg.cLatent]);
  m.set('mapper.1.running_var', [cfg.cLatent]);
  return m;
}

const isStat = (k: string) => k.endsWith('.running_mean') || k.endsWith('.running_var');

/**
 * Parameters (BatchNorm statistics are buffers): the backbone alone (torchvision's 21,458,488 for
 * efficientnet_v2_s less its 1000-class classifier) and with the mapper.
 */
export function effnetParamCount(cfg: EffnetConfig): { backbone: number; total: number } {
  const params = new Map([...effnetShapes(cfg)].filter(([k]) => !isStat(k)));
  const total = countParams(params);
  return { backbone: total - cfg.cLatent * cfg.lastChannels, total };
}

export function checkEffnetCheckpoint(ck: Checkpoint, cfg: EffnetConfig): void {
  checkCascadeCheckpoint(ck, 'effnet', effnetShapes(cfg), cfg.name);
}

/** The latentEncoder stage's preprocessing settings (docs/model-packs.md roles table). */
export function effnetSettings(cfg: EffnetConfig): { inputSize: number; mean: number[]; std: number[] } {
  return { inputSize: cfg.imageSize, mean: IMAGENET_MEAN, std: IMAGENET_STD };
}

/** W·s and β − μ·s per output channel, s = γ/√(σ² + ε) (γ = 1, β = 0 without affine), in float64. */
function foldBatchNorm(w: Float32Array, cout: number, bn: { gamma?: Float32Array; beta?: Float32Array; mean: Float32Array; variance: Float32Array }, eps: number, file: string, key: string): { w: Float32Array; b: Float32Array } {
  const per = w.length / cout;
  const fw = new Float32Array(w.length);
  const fb = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const v = bn.variance[o] + eps;
    if (!(v > 0)) throw new BundleError(file, `running_var ${bn.variance[o]} at channel ${o}`, { field: `tensor ${key}`, expected: 'a non-negative variance' });
    const s = (bn.gamma ? bn.gamma[o] : 1) / Math.sqrt(v);
    for (let i = 0; i < per; i++) fw[o * per + i] = w[o * per + i] * s;
    fb[o] = (bn.beta ? bn.beta[o] : 0) - bn.mean[o] * s;
  }
  return { w: fw, b: fb };
}

/** The latentEncoder graph: `images` float32 [batch, 3, S, S] -> `latents` float32 [batch, 16, S/32, S/32]. */
export async function effnetGraph(ck: Checkpoint, cfg: EffnetConfig = EFFNET_V2_S, opts: StageBuildOptions = {}): Promise<GraphBuilder> {
  checkEffnetCheckpoint(ck, cfg);
  const precision = opts.precision ?? 'float32';
  const shapes = effnetShapes(cfg);
  // Tensors are read here (BatchNorm is folded before anything becomes an initializer), so progress is counted here too.
  const cg = new CascadeGraph(`effnet_encoder${precision === 'float16' ? '_f16' : ''}`, ck, shapes, precision);
  const g = cg.g;
  g.metadata.model = `${cfg.name} (Stability-AI/StableCascade EfficientNetEncoder: torchvision EfficientNetV2-S features + 1x1 mapper + BatchNorm, folded), ${precision}`;
  let read = 0;
  const raw = async (key: string) => {
    const v = await ck.read(key);
    opts.onTensor?.(key, ++read, shapes.size);
    return v;
  };
  /** A conv with the BatchNorm after it folded in, as weight and bias initializers. */
  const foldedConv = async (x: string, wKey: string, bnKey: string, cout: number, k: number, stride: number, groups: number, eps: number, affine: boolean) => {
    const folded = foldBatchNorm(await raw(wKey), cout, {
      gamma: affine ? await raw(`${bnKey}.weight`) : undefined,
      beta: affine ? await raw(`${bnKey}.bias`) : undefined,
      mean: await raw(`${bnKey}.running_mean`),
      variance: await raw(`${bnKey}.running_var`),
    }, eps, ck.tensors.get(`${bnKey}.running_var`)?.file ?? ck.label, `${bnKey}.running_var`);
    const pad = (k - 1) >> 1;
    const w = cg.konst(folded.w, shapes.get(wKey) as number[], `${wKey}.folded`);
    const b = cg.konst(folded.b, [cout], `${bnKey}.folded_bias`);
    return conv2d(g, [x, w, b], [k, k], { strides: [stride, stride], pads: [pad, pad, pad, pad], group: groups });
  };
  const s = cfg.imageSize;
  g.input('images', 'float32', ['batch', 3, s, s]);
  let x = cg.fromFloat('images');
  for (const block of effnetBlocks(cfg)) {
    let h = x;
    for (const l of block.layers) {
      if (l.kind === 'conv') {
        h = await foldedConv(h, `${l.p}.0.weight`, `${l.p}.1`, l.cout, l.k, l.stride, l.groups, cfg.bnEps, true);
        if (l.act) h = cg.silu(h);
      } else {
        // Squeeze-and-excitation: channel weights from the plane's mean, SiLU between, sigmoid gate.
        const fc = async (t: string, p: string) => {
          const w = cg.konst(await raw(`${p}.weight`), shapes.get(`${p}.weight`) as number[], `${p}.weight`);
          return conv2d(g, [t, w, cg.konst(await raw(`${p}.bias`), shapes.get(`${p}.bias`) as number[], `${p}.bias`)], [1, 1]);
        };
        const pooled = g.op('GlobalAveragePool', [h]);
        const gate = g.op('Sigmoid', [await fc(cg.silu(await fc(pooled, `${l.p}.fc1`)), `${l.p}.fc2`)]);
        h = g.op('Mul', [h, gate]);
      }
    }
    x = block.residual ? g.op('Add', [h, x]) : h;
  }
  const lat = await foldedConv(x, 'mapper.0.weight', 'mapper.1', cfg.cLatent, 1, 1, 1, cfg.mapperEps, false);
  cg.toFloat(lat, 'latents');
  const l = effnetLatentSize(cfg);
  g.output('latents', 'float32', ['batch', cfg.cLatent, l, l]);
  return g;
}

/** The latentEncoder stage as pack.ts's builders yield it: one graph (20.2 M parameters). */
export async function* buildEffnet(ck: Checkpoint, cfg: EffnetConfig = EFFNET_V2_S, opts: StageBuildOptions = {}): AsyncGenerator<StagePartGraph> {
  const l = effnetLatentSize(cfg);
  yield onePart('effnet_encoder', await effnetGraph(ck, cfg, opts), effnetParamCount(cfg).total, opts, {
    inputs: { images: { name: 'images', dtype: 'float32', shape: ['batch', 3, cfg.imageSize, cfg.imageSize] } },
    outputs: { latents: { name: 'latents', dtype: 'float32', shape: ['batch', cfg.cLatent, l, l] } },
  });
}

// Stand-in model pack with the REAL signatures of the public models MIRAGE runs (VDVAE ImageNet64,
// Stable Cascade EfficientNet encoder / stage C / stage B / stage A, CLIP ViT-L/14, GiT-large-coco;
// docs/model-packs.md): same ONNX input/output names, shapes and dtypes, tiny seeded random weights.
// Built by the test suite and the benchmark (never committed as binaries), so the whole pipeline is
// exercised at the exact shapes a real pack would feed it. It does not make meaningful images.
import type { ShardSink } from '../bundle/writer.ts';
import { conv2d, GraphBuilder } from '../onnx/builder.ts';
import { ModelPackWriter, type ModelPackManifest, type StageSpec } from './modelPack.ts';
import { NoiseRng } from '../base/rng.ts';

/** Real feature sizes (docs/background.md §3, §7). */
export const REAL = {
  vdvaeLatents: 91168,
  /** 44 undecoded layers: 31 at 32x32 and 13 at 64x64, 16 channels each. */
  vdvaePriorNoise: 31 * 16 * 32 * 32 + 13 * 16 * 64 * 64,
  effnetInput: 768,
  cLatent: [16, 24, 24],
  bLatent: [4, 256, 256],
  imageSize: 1024,
  clipImage: 768,
  clipTextTokens: 77,
  clipTextDim: 1280,
  clipInput: 224,
  clipTokens: 257,
  clipHidden: 1024,
  gitVocab: 30522,
} as const;

function randn(rng: NoiseRng, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** VDVAE's layer layout: [resolution, layer count] of the first 31 decoded layers and the 44 prior ones. */
export const VDVAE_LAYOUT = {
  zdim: 16,
  decoded: [
    [1, 2],
    [4, 4],
    [8, 8],
    [16, 16],
    [32, 1],
  ],
  prior: [
    [32, 31],
    [64, 13],
  ],
} as const;

export function realStageSpecs(kind: StageSpec['kind']): Record<keyof ModelPackManifest['stages'], StageSpec> {
  const f = (name: string, shape: (number | string)[], dtype: 'float32' | 'int64' = 'float32') => ({ name, dtype, shape });
  return {
    lowLevelDecoder: {
      file: 'models/vdvae_decoder.onnx',
      role: 'VDVAE ImageNet 64x64 decoder (imagenet64-iter-1600000-model-ema): first 31 latent layers from the brain, 44 deeper layers sampled from the prior',
      kind,
      inputs: { latents: f('latents', ['batch', REAL.vdvaeLatents]), prior_noise: f('prior_noise', ['batch', REAL.vdvaePriorNoise]) },
      outputs: { px: f('px', ['batch', 64, 64, 3]) },
      settings: { layout: VDVAE_LAYOUT, priorTemperature: 1, outputRange: [-1, 1] },
    },
    latentEncoder: {
      file: 'models/effnet_encoder.onnx',
      role: 'Stable Cascade EfficientNetEncoder (effnet_encoder.safetensors): ImageNet-normalised 768x768 -> 16x24x24',
      kind,
      inputs: { images: f('images', ['batch', 3, REAL.effnetInput, REAL.effnetInput]) },
      outputs: { latents: f('latents', ['batch', ...REAL.cLatent]) },
      settings: { inputSize: REAL.effnetInput, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    },
    priorDenoiser: {
      file: 'models/stage_c.onnx',
      role: 'Stable Cascade stage C (StageC.forward(x, r, clip_text, clip_text_pooled, clip_img)), epsilon target',
      kind,
      inputs: {
        x: f('x', ['batch', ...REAL.cLatent]),
        r: f('r', ['batch']),
        clip_text: f('clip_text', ['batch', REAL.clipTextTokens, REAL.clipTextDim]),
        clip_text_pooled: f('clip_text_pooled', ['batch', 1, REAL.clipTextDim]),
        clip_img: f('clip_img', ['batch', 1, REAL.clipImage]),
      },
      outputs: { pred: f('pred', ['batch', ...REAL.cLatent]) },
      settings: {},
    },
    latentDecoder: {
      file: 'models/stage_b.onnx',
      role: 'Stable Cascade stage B (StageB.forward(x, r, effnet, clip)), epsilon target',
      kind,
      inputs: {
        x: f('x', ['batch', ...REAL.bLatent]),
        r: f('r', ['batch']),
        effnet: f('effnet', ['batch', ...REAL.cLatent]),
        clip: f('clip', ['batch', 1, REAL.clipTextDim]),
      },
      outputs: { pred: f('pred', ['batch', ...REAL.bLatent]) },
      settings: {},
    },
    pixelDecoder: {
      file: 'models/stage_a.onnx',
      role: 'Stable Cascade stage A (StageA.decode): 4x256x256 -> RGB 1024x1024 in [0, 1]',
      kind,
      inputs: { latents: f('latents', ['batch', ...REAL.bLatent]) },
      outputs: { images: f('images', ['batch', 3, REAL.imageSize, REAL.imageSize]) },
      settings: {},
    },
    imageEncoder: {
      file: 'models/clip_vit_l14.onnx',
      role: 'CLIP ViT-L/14 vision tower with projection (CLIPVisionModelWithProjection, openai/clip-vit-large-patch14)',
      kind,
      inputs: { pixel_values: f('pixel_values', ['batch', 3, REAL.clipInput, REAL.clipInput]) },
      outputs: {
        image_embeds: f('image_embeds', ['batch', REAL.clipImage]),
        last_hidden_state: f('last_hidden_state', ['batch', REAL.clipTokens, REAL.clipHidden]),
      },
      settings: { inputSize: REAL.clipInput, mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
    },
    captionDecoder: {
      file: 'models/git_text_decoder.onnx',
      role: 'GiT-large-coco text decoder: image-encoder features 257x1024 + token ids -> next-token logits (BERT vocabulary)',
      kind,
      inputs: {
        prompt_features: f('prompt_features', ['batch', REAL.clipTokens, REAL.clipHidden]),
        input_ids: f('input_ids', ['batch', 'seq'], 'int64'),
      },
      outputs: { logits: f('logits', ['batch', 'seq', REAL.gitVocab]) },
      settings: { bosTokenId: 101, eosTokenId: 102 },
    },
  };
}

export const REAL_HEAD_SHAPES = {
  image: [REAL.clipImage],
  text: [REAL.clipTextTokens, REAL.clipTextDim],
  blurry: [REAL.vdvaeLatents],
  retrieval: [REAL.clipTokens, REAL.clipHidden],
  prompt: [REAL.clipTokens, REAL.clipHidden],
};

/** Builds the seven stand-in graphs and writes a complete pack through `sink`. */
export async function buildStandInPack(sink: ShardSink, opts: { seed?: number; prefix?: string } = {}): Promise<ModelPackManifest> {
  const rng = new NoiseRng(opts.seed ?? 1);
  const specs = realStageSpecs('stand-in');
  const w = new ModelPackWriter(sink, opts.prefix ?? '');
  const graphs: Record<string, Uint8Array> = {};

  // VDVAE: the 32x32 layer -> 1x1 conv -> depth-to-space -> NHWC, plus a little prior noise, tanh.
  {
    const g = new GraphBuilder('vdvae_decoder_standin');
    g.input('latents', 'float32', ['batch', REAL.vdvaeLatents]).input('prior_noise', 'float32', ['batch', REAL.vdvaePriorNoise]);
    const last = g.op('Slice', ['latents', g.int64s([REAL.vdvaeLatents - 16384]), g.int64s([REAL.vdvaeLatents]), g.int64s([1])]);
    const z = g.op('Reshape', [last, g.int64s([-1, 16, 32, 32])]);
    const conv = conv2d(g, [z, g.floats(randn(rng, 12 * 16, 0.3), [12, 16, 1, 1])], [1, 1]);
    const img = g.op('Transpose', [g.op('DepthToSpace', [conv], { blocksize: 2, mode: 'CRD' })], { perm: [0, 2, 3, 1] });
    const nz = g.op('Reshape', [g.op('Slice', ['prior_noise', g.int64s([0]), g.int64s([12288]), g.int64s([1])]), g.int64s([-1, 64, 64, 3])]);
    g.op('Tanh', [g.op('Add', [img, g.op('Mul', [nz, g.floats([0.05], [1])])])], undefined, 'px');
    g.output('px', 'float32', ['batch', 64, 64, 3]);
    graphs.lowLevelDecoder = g.toBytes();
  }
  // EfficientNet encoder: 32x32 average pooling -> 1x1 conv to 16 channels.
  {
    const g = new GraphBuilder('effnet_encoder_standin');
    g.input('images', 'float32', ['batch', 3, 768, 768]);
    const p = g.op('AveragePool', ['images'], { kernel_shape: [32, 32], strides: [32, 32] });
    g.op('Identity', [conv2d(g, [p, g.floats(randn(rng, 16 * 3, 0.5), [16, 3, 1, 1])], [1, 1])], undefined, 'latents');
    g.output('latents', 'float32', ['batch', 16, 24, 24]);
    graphs.latentEncoder = g.toBytes();
  }
  // Stage C: 1x1 conv of x + projections of the three conditionings + a timestep term.
  {
    const g = new GraphBuilder('stage_c_standin');
    g.input('x', 'float32', ['batch', 16, 24, 24]).input('r', 'float32', ['batch']);
    g.input('clip_text', 'float32', ['batch', 77, 1280]).input('clip_text_pooled', 'float32', ['batch', 1, 1280]);
    g.input('clip_img', 'float32', ['batch', 1, 768]);
    const cx = conv2d(g, ['x', g.floats(randn(rng, 256, 0.1), [16, 16, 1, 1])], [1, 1]);
    const ti = g.op('MatMul', ['clip_img', g.floats(randn(rng, 768 * 16, 0.02), [768, 16])]);
    const tt = g.op('MatMul', [g.op('ReduceMean', ['clip_text'], { axes: [1], keepdims: 1 }), g.floats(randn(rng, 1280 * 16, 0.02), [1280, 16])]);
    const tp = g.op('MatMul', ['clip_text_pooled', g.floats(randn(rng, 1280 * 16, 0.02), [1280, 16])]);
    const cond = g.op('Reshape', [g.op('Add', [g.op('Add', [ti, tt]), tp]), g.int64s([-1, 16, 1, 1])]);
    const rt = g.op('Mul', [g.op('Reshape', ['r', g.int64s([-1, 1, 1, 1])]), g.floats(randn(rng, 16, 0.1), [1, 16, 1, 1])]);
    g.op('Add', [g.op('Add', [cx, cond]), rt], undefined, 'pred');
    g.output('pred', 'float32', ['batch', 16, 24, 24]);
    graphs.priorDenoiser = g.toBytes();
  }
  // Stage B: 1x1 conv of x + nearest-upsampled projected effnet latent + pooled text + timestep.
  {
    const g = new GraphBuilder('stage_b_standin');
    g.input('x', 'float32', ['batch', 4, 256, 256]).input('r', 'float32', ['batch']);
    g.input('effnet', 'float32', ['batch', 16, 24, 24]).input('clip', 'float32', ['batch', 1, 1280]);
    const cx = conv2d(g, ['x', g.floats(randn(rng, 16, 0.1), [4, 4, 1, 1])], [1, 1]);
    const e = conv2d(g, ['effnet', g.floats(randn(rng, 64, 0.2), [4, 16, 1, 1])], [1, 1]);
    const nc = g.op('Slice', [g.op('Shape', [e]), g.int64s([0]), g.int64s([2]), g.int64s([0])]);
    const sizes = g.op('Concat', [nc, g.int64s([256, 256])], { axis: 0 });
    const up = g.op('Resize', [e, '', '', sizes], { mode: 'nearest' });
    const c = g.op('Reshape', [g.op('MatMul', ['clip', g.floats(randn(rng, 1280 * 4, 0.02), [1280, 4])]), g.int64s([-1, 4, 1, 1])]);
    const rt = g.op('Mul', [g.op('Reshape', ['r', g.int64s([-1, 1, 1, 1])]), g.floats(randn(rng, 4, 0.1), [1, 4, 1, 1])]);
    g.op('Add', [g.op('Add', [g.op('Add', [cx, up]), c]), rt], undefined, 'pred');
    g.output('pred', 'float32', ['batch', 4, 256, 256]);
    graphs.latentDecoder = g.toBytes();
  }
  // Stage A: 1x1 conv to 48 channels -> depth-to-space 4 -> sigmoid.
  {
    const g = new GraphBuilder('stage_a_standin');
    g.input('latents', 'float32', ['batch', 4, 256, 256]);
    const c = conv2d(g, ['latents', g.floats(randn(rng, 48 * 4, 0.5), [48, 4, 1, 1])], [1, 1]);
    g.op('Sigmoid', [g.op('DepthToSpace', [c], { blocksize: 4, mode: 'CRD' })], undefined, 'images');
    g.output('images', 'float32', ['batch', 3, 1024, 1024]);
    graphs.pixelDecoder = g.toBytes();
  }
  // CLIP ViT-L/14: 14x14 patch conv -> 256 tokens -> 1024 dims, a CLS token -> 257; projection to 768.
  {
    const g = new GraphBuilder('clip_vit_l14_standin');
    g.input('pixel_values', 'float32', ['batch', 3, 224, 224]);
    const patches = conv2d(g, ['pixel_values', g.floats(randn(rng, 16 * 3 * 14 * 14, 0.05), [16, 3, 14, 14])], [14, 14], { strides: [14, 14] });
    const seq = g.op('Transpose', [g.op('Reshape', [patches, g.int64s([0, 16, 256])])], { perm: [0, 2, 1] });
    const tokens = g.op('MatMul', [seq, g.floats(randn(rng, 16 * 1024, 0.3), [16, 1024])]);
    const cls = g.op('Add', [g.op('ReduceMean', [tokens], { axes: [1], keepdims: 1 }), g.floats(randn(rng, 1024, 0.1), [1, 1, 1024])]);
    g.op('Concat', [cls, tokens], { axis: 1 }, 'last_hidden_state');
    const pooled = g.op('ReduceMean', [seq], { axes: [1], keepdims: 0 });
    g.op('MatMul', [pooled, g.floats(randn(rng, 16 * 768, 0.3), [16, 768])], undefined, 'image_embeds');
    g.output('image_embeds', 'float32', ['batch', 768]).output('last_hidden_state', 'float32', ['batch', 257, 1024]);
    graphs.imageEncoder = g.toBytes();
  }
  // GiT text decoder: token embedding + projected mean prompt feature -> tanh -> vocabulary logits.
  {
    const g = new GraphBuilder('git_text_decoder_standin');
    g.input('prompt_features', 'float32', ['batch', 257, 1024]).input('input_ids', 'int64', ['batch', 'seq']);
    const emb = g.op('Gather', [g.floats(randn(rng, REAL.gitVocab * 8, 1), [REAL.gitVocab, 8]), 'input_ids'], { axis: 0 });
    const pf = g.op('MatMul', [g.op('ReduceMean', ['prompt_features'], { axes: [1], keepdims: 1 }), g.floats(randn(rng, 1024 * 8, 0.5), [1024, 8])]);
    const h = g.op('Tanh', [g.op('Add', [emb, pf])]);
    g.op('MatMul', [h, g.floats(randn(rng, 8 * REAL.gitVocab, 1), [8, REAL.gitVocab])], undefined, 'logits');
    g.output('logits', 'float32', ['batch', 'seq', REAL.gitVocab]);
    graphs.captionDecoder = g.toBytes();
  }
  for (const [stage, bytes] of Object.entries(graphs)) await w.addFile(specs[stage as keyof typeof specs].file, bytes);
  const uImg = await w.addNpy('cond/uncond_clip_img.npy', new Float32Array(REAL.clipImage), [1, REAL.clipImage]);
  const uText = await w.addNpy('cond/uncond_clip_text.npy', randn(rng, REAL.clipTextTokens * REAL.clipTextDim, 0.5), [REAL.clipTextTokens, REAL.clipTextDim]);
  const uPool = await w.addNpy('cond/uncond_clip_text_pooled.npy', randn(rng, REAL.clipTextDim, 0.5), [1, REAL.clipTextDim]);
  const vocab = Array.from({ length: REAL.gitVocab }, (_, i) =>
    i === 0 ? '[PAD]' : i === 100 ? '[UNK]' : i === 101 ? '[CLS]' : i === 102 ? '[SEP]' : i % 5 === 0 ? `##s${i}` : `w${i}`,
  );
  const vocabPath = await w.addJson('vocab.json', vocab);
  return w.finish({
    name: 'stand-in (real signatures, random weights)',
    description: 'Graphs with the exact input/output names, shapes and dtypes of the real models; tiny random weights. For tests and benchmarks only.',
    provenance: { kind: 'stand-in', command: 'buildStandInPack', createdAt: new Date().toISOString(), notes: 'not a generative model' },
    stages: specs,
    unconditional: { clipImg: uImg, clipText: uText, clipTextPooled: uPool },
    vocab: vocabPath,
    imageSize: REAL.imageSize,
    headShapes: REAL_HEAD_SHAPES,
  });
}

// `mirage pack vdvae`: VDVAE's ImageNet-64 checkpoint -> a stage pack (docs/model-packs.md, "VDVAE")
// with the `lowLevelDecoder` stage (latents [B, 91168] + prior_noise [B, 1359872] + the mixture's
// uniform draws -> px [B, 64, 64, 3]) and the `lowLevelEncoder` stage (pixels [B, 64, 64, 3] +
// posterior_noise [B, 91168] -> latents [B, 91168], MIRAGE's targets), weights in external-data
// files under WebGPU's default binding limit; `precision: 'both'` adds a float16 build of each stage
// as its `float16` variant (half the bytes, for WebGPU with shader-f16), chosen at load.
import type { ShardSink } from '../../bundle/writer.ts';
import type { Checkpoint } from './checkpoint.ts';
import { WEBGPU_DEFAULT_LIMITS } from './clipPack.ts';
import type { GraphPrecision } from './graphWeights.ts';
import { addPrecisionGraphs, StagePackWriter, type PackedStage, type StagePackManifest } from './stagePack.ts';
import {
  buildVdvaeDecoderGraph,
  buildVdvaeEncoderGraph,
  parseBlocks,
  UNIFORM_LOW,
  VDVAE_IMAGENET64,
  vdvaeDecoderParamCount,
  vdvaeEncoderParamCount,
  vdvaeLatentSizes,
  type VdvaeConfig,
} from './vdvae.ts';

export async function packVdvae(
  ck: Checkpoint,
  sink: ShardSink,
  opts: { config?: VdvaeConfig; temperature?: number; maxFileBytes?: number; precision?: GraphPrecision | 'both'; command?: string; createdAt?: string } = {},
): Promise<StagePackManifest> {
  const cfg = opts.config ?? VDVAE_IMAGENET64;
  const temperature = opts.temperature ?? 1;
  const maxFileBytes = opts.maxFileBytes ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize;
  const w = new StagePackWriter(sink);
  const sizes = vdvaeLatentSizes(cfg);
  const s = cfg.imageSize;
  const nm = cfg.numMixtures;
  const blocks = parseBlocks(cfg.decBlocks);
  const precision = opts.precision ?? 'float32';
  const { precisions, files: decoder } = await addPrecisionGraphs(w, (p) => buildVdvaeDecoderGraph(ck, cfg, { precision: p }), 'vdvae_decoder', precision, maxFileBytes);
  const uniform = `uniform draws in [${UNIFORM_LOW}, 1 − ${UNIFORM_LOW}]`;
  const stages: Record<string, PackedStage> = {
    lowLevelDecoder: {
      ...decoder,
      role: `${cfg.name} top-down decoder (openai/vdvae) from ${ck.label}: first ${cfg.decodedLayers} latent layers decoded, ${blocks.length - cfg.decodedLayers} from the prior`,
      kind: 'real',
      inputs: {
        latents: { name: 'latents', dtype: 'float32', shape: ['batch', sizes.decoded] },
        prior_noise: { name: 'prior_noise', dtype: 'float32', shape: ['batch', sizes.prior] },
        mix_uniform: { name: 'mix_uniform', dtype: 'float32', shape: ['batch', s, s, nm] },
        pixel_uniform: { name: 'pixel_uniform', dtype: 'float32', shape: ['batch', s, s, 3] },
      },
      outputs: { px: { name: 'px', dtype: 'float32', shape: ['batch', s, s, 3] } },
      settings: {
        pixelLayout: 'nhwc',
        outputRange: [-1, 1],
        // Applied by whoever feeds prior_noise (the pipeline, `mirage lowlevel`): noise·t.
        priorTemperature: temperature,
        pixel: `sampled from the mixture of logistics: mix_uniform (${uniform}, one per pixel and component) picks the component (Gumbel-max), pixel_uniform (one per pixel and channel) the logistic sample; 0.5 everywhere gives the mean of the most likely component`,
        uniformRange: [UNIFORM_LOW, 1 - UNIFORM_LOW],
        config: cfg,
        parameters: vdvaeDecoderParamCount(cfg),
        precision: precisions[0],
      },
    },
  };
  if (cfg.encBlocks) {
    const { files: encoder } = await addPrecisionGraphs(w, (p) => buildVdvaeEncoderGraph(ck, cfg, { precision: p }), 'vdvae_encoder', precision, maxFileBytes);
    const counts = vdvaeEncoderParamCount(cfg);
    stages.lowLevelEncoder = {
      ...encoder,
      role: `${cfg.name} encoder (openai/vdvae) from ${ck.label}: posterior samples of the first ${cfg.decodedLayers} latent layers (MIRAGE's low-level targets)`,
      kind: 'real',
      inputs: {
        pixels: { name: 'pixels', dtype: 'float32', shape: ['batch', s, s, 3] },
        posterior_noise: { name: 'posterior_noise', dtype: 'float32', shape: ['batch', sizes.decoded] },
      },
      outputs: { latents: { name: 'latents', dtype: 'float32', shape: ['batch', sizes.decoded] } },
      settings: {
        pixelLayout: 'nhwc',
        inputSize: s,
        // Pillow's bilinear resize to inputSize first (torchvision's resize of a PIL image), then (v + shift)·scale on 0..255.
        resize: 'bilinear',
        inputShift: cfg.inputShift ?? VDVAE_IMAGENET64.inputShift,
        inputScale: cfg.inputScale ?? VDVAE_IMAGENET64.inputScale,
        latents: 'z = posterior mean + exp(posterior log std)·posterior_noise per layer (standard normal noise: the sample MIRAGE trains on; zero: the posterior means)',
        config: cfg,
        parameters: counts.graph,
        encoderParameters: counts.encoder,
        precision: precisions[0],
      },
    };
  }
  return w.finish({
    name: `${cfg.name} (${ck.label})`,
    description: `lowLevelDecoder stage: ${vdvaeDecoderParamCount(cfg)} parameters${stages.lowLevelEncoder ? `; lowLevelEncoder stage: ${String(stages.lowLevelEncoder.settings.parameters)} parameters` : ''}`,
    provenance: { kind: 'real', command: opts.command ?? 'packVdvae', createdAt: opts.createdAt ?? new Date().toISOString(), notes: `checkpoint files: ${ck.files.join(', ')}` },
    stages,
  });
}

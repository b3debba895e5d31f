// `mirage pack vdvae`: VDVAE's ImageNet-64 checkpoint -> a stage pack with the `lowLevelDecoder`
// stage (docs/model-packs.md, "VDVAE"): latents [B, 91168] + prior_noise [B, 1359872] -> px
// [B, 64, 64, 3], weights in external-data files under WebGPU's default binding limit.
import type { ShardSink } from '../../bundle/writer.ts';
import type { Checkpoint } from './checkpoint.ts';
import { WEBGPU_DEFAULT_LIMITS } from './clipPack.ts';
import { addGraphFiles, StagePackWriter, type PackedStage, type StagePackManifest } from './stagePack.ts';
import { buildVdvaeDecoderGraph, parseBlocks, VDVAE_IMAGENET64, vdvaeDecoderParamCount, vdvaeLatentSizes, type VdvaeConfig } from './vdvae.ts';

export async function packVdvae(
  ck: Checkpoint,
  sink: ShardSink,
  opts: { config?: VdvaeConfig; temperature?: number; maxFileBytes?: number; command?: string; createdAt?: string } = {},
): Promise<StagePackManifest> {
  const cfg = opts.config ?? VDVAE_IMAGENET64;
  const temperature = opts.temperature ?? 1;
  const g = await buildVdvaeDecoderGraph(ck, cfg);
  const w = new StagePackWriter(sink);
  const { file, data } = await addGraphFiles(w, g, 'vdvae_decoder', opts.maxFileBytes ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize);
  const sizes = vdvaeLatentSizes(cfg);
  const s = cfg.imageSize;
  const blocks = parseBlocks(cfg.decBlocks);
  const stage: PackedStage = {
    file,
    data,
    role: `${cfg.name} top-down decoder (openai/vdvae) from ${ck.label}: first ${cfg.decodedLayers} latent layers decoded, ${blocks.length - cfg.decodedLayers} from the prior`,
    kind: 'real',
    inputs: { latents: { name: 'latents', dtype: 'float32', shape: ['batch', sizes.decoded] }, prior_noise: { name: 'prior_noise', dtype: 'float32', shape: ['batch', sizes.prior] } },
    outputs: { px: { name: 'px', dtype: 'float32', shape: ['batch', s, s, 3] } },
    settings: {
      pixelLayout: 'nhwc',
      outputRange: [-1, 1],
      // Applied by whoever feeds prior_noise (the pipeline, `mirage lowlevel`): noise·t.
      priorTemperature: temperature,
      pixel: 'mean of the most likely mixture component (deterministic)',
      config: cfg,
      parameters: vdvaeDecoderParamCount(cfg),
    },
  };
  return w.finish({
    name: `${cfg.name} decoder (${ck.label})`,
    description: `lowLevelDecoder stage: ${vdvaeDecoderParamCount(cfg)} decoder parameters, ${data.length} weight file(s)`,
    provenance: { kind: 'real', command: opts.command ?? 'packVdvae', createdAt: opts.createdAt ?? new Date().toISOString(), notes: `checkpoint files: ${ck.files.join(', ')}` },
    stages: { lowLevelDecoder: stage },
  });
}

// `mirage pack <model>`: real model packs from public checkpoints, in TypeScript (issue 14). Today:
// `mirage pack clip` (CLIP ViT-L/14 vision tower -> the imageEncoder stage) and `mirage pack vdvae`
// (VDVAE ImageNet-64 decoder and encoder -> the lowLevelDecoder and lowLevelEncoder stages), `mirage pack
// git` (GiT-large-coco -> the imageEncoder and captionDecoder stages), `mirage pack stable-cascade`
// (the official Stable Cascade files -> latentEncoder, priorDenoiser in parts, pixelDecoder). The packers
// are src/core/generate/packers/, their Node side src/node/packRun.ts; this file only declares the
// flags and prints what the run returns.
import type { Command } from 'commander';
import { WEBGPU_DEFAULT_LIMITS } from '../../src/core/generate/packers/clipPack.ts';
import { DEFAULT_MAX_PART_BYTES } from '../../src/core/generate/packers/cascade/packStableCascade.ts';
import {
  runPackClip,
  runPackGit,
  runPackStableCascade,
  runPackVdvae,
  type PackCascadeOptions,
  type PackClipOptions,
  type PackGitOptions,
  type PackVdvaeOptions,
} from '../../src/node/packRun.ts';

export function register(program: Command): void {
  const pack = program
    .command('pack')
    .description('build a real model pack from a public checkpoint (docs/model-packs.md)');
  pack
    .command('clip')
    .description(
      'CLIP ViT-L/14 vision tower (openai/clip-vit-large-patch14 HF folder, or a transformers.js folder with onnx/vision_model.onnx) -> a stage pack with the imageEncoder stage',
    )
    .requiredOption(
      '--checkpoint <path>',
      'HF model folder (model.safetensors, pytorch_model.bin, or sharded with an index.json) or one weights file',
    )
    .requiredOption('--out <dir>', 'output pack folder (replaced atomically)')
    .option(
      '--max-file-mib <n>',
      'largest weight file, MiB (default: WebGPU default maxStorageBufferBindingSize)',
      String(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize / 2 ** 20),
    )
    .option(
      '--precision <p>',
      'float32, float16 (half the bytes; WebGPU with shader-f16), or both in one pack (chosen at load)',
      'both',
    )
    .option('--quiet', 'no progress bar')
    .action(async (opts: PackClipOptions) => {
      const r = await runPackClip(opts);
      process.stderr.write(
        `pack clip: wrote ${r.out} (${r.files} files, ${r.bytes} bytes, ${String(r.parameters)} parameters)\n`,
      );
    });
  pack
    .command('git')
    .description(
      'GiT-large-coco (microsoft/git-large-coco HF folder) -> a stage pack with the imageEncoder (257x1024 features) and captionDecoder (with a key/value cache) stages and the vocabulary',
    )
    .requiredOption('--checkpoint <path>', 'HF model folder (model.safetensors, pytorch_model.bin, or sharded; vocab.txt or tokenizer.json) or one weights file with the vocabulary beside it')
    .requiredOption('--out <dir>', 'output pack folder (replaced atomically)')
    .option('--max-file-mib <n>', 'largest weight file, MiB', String(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize / 2 ** 20))
    .option('--precision <p>', 'float32, float16 (half the bytes; WebGPU with shader-f16), or both in one pack (chosen at load)', 'both')
    .option('--quiet', 'no progress bar')
    .action(async (opts: PackGitOptions) => {
      const r = await runPackGit(opts);
      process.stderr.write(`pack git: wrote ${r.out} (${r.files} files, ${r.bytes} bytes, ${r.parameters} parameters)\n`);
    });
  pack
    .command('vdvae')
    .description(
      'VDVAE ImageNet 64x64 (openai/vdvae imagenet64-iter-1600000-model-ema.th) -> a stage pack with the lowLevelDecoder and lowLevelEncoder stages',
    )
    .requiredOption(
      '--checkpoint <file>',
      'the .th checkpoint (torch.save of the whole VAE state dict: encoder.* and decoder.*)',
    )
    .requiredOption('--out <dir>', 'output pack folder (replaced atomically)')
    .option('--temperature <t>', 'prior temperature for the undecoded layers (std scaled by t)', '1')
    .option('--precision <p>', 'float32, float16 (half the bytes; WebGPU with shader-f16), or both in one pack (chosen at load)', 'both')
    .option(
      '--max-file-mib <n>',
      'largest weight file, MiB',
      String(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize / 2 ** 20),
    )
    .action(async (opts: PackVdvaeOptions) => {
      const r = await runPackVdvae(opts);
      process.stderr.write(
        `pack vdvae: wrote ${r.out} (${r.files} files, ${r.bytes} bytes, ${String(r.parameters)} decoder and ${String(r.encoderParameters)} encoder-graph parameters)\n`,
      );
    });

  pack
    .command('stable-cascade')
    .description(
      'Stable Cascade (stabilityai/stable-cascade safetensors: effnet_encoder, stage_c or stage_c_lite (bf16 or fp32), stage_a) -> a stage pack with the latentEncoder, priorDenoiser (in parts) and pixelDecoder stages and the unconditional CLIP constants',
    )
    .requiredOption('--checkpoints <dir>', 'folder with the official files: effnet_encoder.safetensors, stage_c(_lite)(_bf16).safetensors, stage_a.safetensors')
    .requiredOption('--variant <v>', 'lite (stage C 1B) or full (stage C 3.6B)')
    .requiredOption('--out <dir>', 'output pack folder (replaced atomically)')
    .option('--precision <p>', 'float32, float16 (half the bytes; WebGPU with shader-f16), or both in one pack (chosen at load)', 'both')
    .option('--max-file-mib <n>', 'largest weight file, MiB', String(WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize / 2 ** 20))
    .option('--max-part-mib <n>', 'largest weights of one stage C part (one session), MiB', String(DEFAULT_MAX_PART_BYTES / 2 ** 20))
    .option('--clip-text <dir>', "CLIP ViT-bigG/14 text encoder folder (stabilityai/stable-cascade's text_encoder/: model.safetensors, config.json): the unconditional text constants are computed from it; without it they are zeros marked 'not computed'")
    .option('--quiet', 'no progress bar')
    .action(async (opts: PackCascadeOptions) => {
      const r = await runPackStableCascade(opts);
      process.stderr.write(`pack stable-cascade: wrote ${r.out} (${r.files} files, ${r.bytes} bytes, stage C in ${r.parts} part(s)); unconditional CLIP text: ${r.unconditional}\n`);
    });
}

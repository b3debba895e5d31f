// `mirage pack <model>`: real model packs from public checkpoints, in TypeScript (issue 14). Today:
// `mirage pack clip` (CLIP ViT-L/14 vision tower -> the imageEncoder stage) and `mirage pack vdvae`
// (VDVAE ImageNet-64 decoder and encoder -> the lowLevelDecoder and lowLevelEncoder stages), `mirage pack
// git` (GiT-large-coco -> the imageEncoder and captionDecoder stages), `mirage pack stable-cascade`
// (the official Stable Cascade files -> latentEncoder, priorDenoiser in parts, pixelDecoder). The logic is
// src/core/generate/packers/; this file only parses flags and wires Node's files in.
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BundleError } from '../../src/core/base/errors.ts';
import { hasWeights, openCheckpoint } from '../../src/core/generate/packers/checkpoint.ts';
import { isTransformersJsClip, packClipOnnx } from '../../src/core/generate/packers/clipOnnx.ts';
import { packClip, WEBGPU_DEFAULT_LIMITS } from '../../src/core/generate/packers/clipPack.ts';
import { packVdvae } from '../../src/core/generate/packers/vdvaePack.ts';
import { checkGitCheckpoint, GIT_LARGE_COCO } from '../../src/core/generate/packers/git.ts';
import { packGit, readGitVocab } from '../../src/core/generate/packers/gitPack.ts';
import { DEFAULT_MAX_PART_BYTES, packStableCascade, type CascadeVariant } from '../../src/core/generate/packers/cascade/packStableCascade.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { fsTree } from '../../src/node/files.ts';
import { progressBar } from '../../src/node/progress.ts';
import { sha256File } from '../../src/node/provenance.ts';

interface PackClipOptions {
  checkpoint: string;
  out: string;
  maxFileMib: string;
  precision: string;
  quiet?: boolean;
}

/** A folder (HF layout) or one weights file, as the checkpoint reader's folder + optional file. */
async function checkpointAt(path: string) {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw new BundleError(path, `cannot read (${(e as NodeJS.ErrnoException).code})`, {
      field: '--checkpoint',
      expected: 'a Hugging Face model folder or a .safetensors / .bin file',
    });
  }
  if (!isDir) return openCheckpoint(fsTree(dirname(path)), { file: basename(path) });
  const tree = fsTree(path);
  // A transformers.js folder (onnx/vision_model.onnx, no PyTorch weights) is wrapped, not rebuilt.
  if (!(await hasWeights(tree)) && (await isTransformersJsClip(tree))) return tree;
  return openCheckpoint(tree);
}

export async function runPackClip(
  o: PackClipOptions,
): Promise<{ out: string; files: number; bytes: number; parameters: unknown }> {
  const fileBytes = maxFileBytes(o.maxFileMib);
  const precision = precisionFlag(o.precision);
  const ck = await checkpointAt(o.checkpoint);
  const bar = o.quiet ? undefined : progressBar('pack clip');
  try {
    const command = `mirage pack clip --checkpoint ${o.checkpoint} --precision ${o.precision} --out ${o.out}`;
    const m = await writeAtomically(o.out, (sink) =>
      'tensors' in ck
        ? packClip(ck, sink, {
            maxFileBytes: fileBytes,
            precision,
            command,
            onProgress: bar?.update,
          })
        : packClipOnnx(ck, sink, { command }),
    );
    return {
      out: o.out,
      files: m.files.length,
      bytes: m.files.reduce((a, f) => a + f.bytes, 0),
      parameters: m.stages.imageEncoder?.settings.parameters,
    };
  } finally {
    bar?.stop();
  }
}

/** --precision: float32, float16 or both (one pack, the float16 build as the stage's variant). */
function precisionFlag(text: string): 'float32' | 'float16' | 'both' {
  if (text === 'float32' || text === 'float16' || text === 'both') return text;
  throw new BundleError('command line', `--precision ${text}`, { expected: 'float32, float16 or both' });
}

function maxFileBytes(mibText: string): number {
  const mib = Number(mibText);
  const most = WEBGPU_DEFAULT_LIMITS.maxBufferSize / 2 ** 20;
  if (!(mib > 0 && mib <= most))
    throw new BundleError('command line', `--max-file-mib ${mibText}`, { expected: `a number in (0, ${most}]` });
  return Math.floor(mib * 2 ** 20);
}

interface PackVdvaeOptions {
  checkpoint: string;
  out: string;
  maxFileMib: string;
  temperature: string;
  precision?: string;
}

export async function runPackVdvae(
  o: PackVdvaeOptions,
): Promise<{ out: string; files: number; bytes: number; parameters: unknown; encoderParameters: unknown }> {
  const bytes = maxFileBytes(o.maxFileMib);
  const temperature = Number(o.temperature);
  if (!(temperature > 0))
    throw new BundleError('command line', `--temperature ${o.temperature}`, {
      expected: 'a positive number (1: the prior as trained)',
    });
  const ck = await checkpointAt(o.checkpoint);
  if (!('tensors' in ck))
    throw new BundleError(o.checkpoint, 'a transformers.js folder is not a VDVAE checkpoint', {
      field: '--checkpoint',
      expected: 'imagenet64-iter-1600000-model-ema.th',
    });
  const precision = precisionFlag(o.precision ?? 'float32');
  const command = `mirage pack vdvae --checkpoint ${o.checkpoint} --temperature ${o.temperature} --precision ${precision} --out ${o.out}`;
  const m = await writeAtomically(o.out, (sink) => packVdvae(ck, sink, { temperature, maxFileBytes: bytes, precision, command }));
  return {
    out: o.out,
    files: m.files.length,
    bytes: m.files.reduce((a, f) => a + f.bytes, 0),
    parameters: m.stages.lowLevelDecoder?.settings.parameters,
    encoderParameters: m.stages.lowLevelEncoder?.settings.parameters,
  };
}

interface PackGitOptions {
  checkpoint: string;
  out: string;
  maxFileMib: string;
  precision: string;
  quiet?: boolean;
}

/** `mirage pack git`: the checkpoint (folder or one weights file) and the tokenizer's vocab.txt / tokenizer.json beside it. */
export async function runPackGit(o: PackGitOptions): Promise<{ out: string; files: number; bytes: number; parameters: number }> {
  const fileBytes = maxFileBytes(o.maxFileMib);
  const precision = precisionFlag(o.precision);
  const ck = await checkpointAt(o.checkpoint);
  if (!('tensors' in ck))
    throw new BundleError(o.checkpoint, 'a transformers.js folder is not a GiT checkpoint', { field: '--checkpoint', expected: 'the microsoft/git-large-coco folder (model.safetensors or pytorch_model.bin, vocab.txt)' });
  checkGitCheckpoint(ck, GIT_LARGE_COCO); // the weights first: a wrong model is named before its vocabulary
  const folder = fsTree((await stat(o.checkpoint)).isDirectory() ? o.checkpoint : dirname(o.checkpoint));
  const vocab = await readGitVocab(folder, GIT_LARGE_COCO);
  const bar = o.quiet ? undefined : progressBar('pack git');
  try {
    const command = `mirage pack git --checkpoint ${o.checkpoint} --precision ${precision} --out ${o.out}`;
    const m = await writeAtomically(o.out, (sink) => packGit(ck, vocab, sink, { maxFileBytes: fileBytes, precision, command, onProgress: bar?.update }));
    const p = (s: 'imageEncoder' | 'captionDecoder') => Number(m.stages[s]?.settings.parameters);
    return { out: o.out, files: m.files.length, bytes: m.files.reduce((a, f) => a + f.bytes, 0), parameters: p('imageEncoder') + p('captionDecoder') };
  } finally {
    bar?.stop();
  }
}

interface PackCascadeOptions {
  checkpoints: string;
  variant: string;
  out: string;
  maxFileMib: string;
  maxPartMib: string;
  precision: string;
  clipText?: string;
  quiet?: boolean;
}

/** `mirage pack stable-cascade`: the official safetensors files of one variant, in one folder. */
export async function runPackStableCascade(o: PackCascadeOptions): Promise<{ out: string; files: number; bytes: number; parts: number; unconditional: string }> {
  if (o.variant !== 'lite' && o.variant !== 'full') throw new BundleError('command line', `--variant ${o.variant}`, { expected: 'lite (stage C 1B) or full (stage C 3.6B)' });
  if (!['float32', 'float16', 'both'].includes(o.precision)) throw new BundleError('command line', `--precision ${o.precision}`, { expected: 'float32, float16 or both' });
  const fileBytes = maxFileBytes(o.maxFileMib);
  const partMib = Number(o.maxPartMib);
  if (!(partMib > 0 && partMib <= 3072)) throw new BundleError('command line', `--max-part-mib ${o.maxPartMib}`, { expected: 'a number in (0, 3072]: each part is created in a 4 GB wasm heap' });
  let isDir = false;
  try {
    isDir = (await stat(o.checkpoints)).isDirectory();
  } catch {
    /* named below */
  }
  if (!isDir) throw new BundleError(o.checkpoints, 'not a folder', { field: '--checkpoints', expected: 'the folder with the official Stable Cascade safetensors files' });
  // The text encoder's files are hashed for the constants' provenance (each read once more, streamed).
  let clipText: { checkpoint: Awaited<ReturnType<typeof openCheckpoint>>; sha256: Record<string, string> } | undefined;
  if (o.clipText !== undefined) {
    if (!(await hasWeights(fsTree(o.clipText)))) throw new BundleError(o.clipText, 'no model.safetensors or pytorch_model.bin', { field: '--clip-text', expected: "the CLIP ViT-bigG/14 text encoder folder (stabilityai/stable-cascade's text_encoder/)" });
    const checkpoint = await openCheckpoint(fsTree(o.clipText));
    const sha256: Record<string, string> = {};
    for (const f of checkpoint.files) sha256[f] = await sha256File(f);
    clipText = { checkpoint, sha256 };
  }
  const bar = o.quiet ? undefined : progressBar('pack stable-cascade');
  try {
    const command = `mirage pack stable-cascade --checkpoints ${o.checkpoints} --variant ${o.variant} --precision ${o.precision}${o.clipText !== undefined ? ` --clip-text ${o.clipText}` : ''} --out ${o.out}`;
    const m = await writeAtomically(o.out, (sink) =>
      packStableCascade(fsTree(o.checkpoints), sink, {
        variant: o.variant as CascadeVariant,
        precision: o.precision as 'float32' | 'float16' | 'both',
        maxFileBytes: fileBytes,
        maxPartBytes: Math.floor(partMib * 2 ** 20),
        ...(clipText ? { clipText } : {}),
        command,
        onProgress: bar?.update,
      }),
    );
    return {
      out: o.out,
      files: m.files.length,
      bytes: m.files.reduce((a, f) => a + f.bytes, 0),
      parts: m.stages.priorDenoiser?.parts?.length ?? 1,
      unconditional: m.unconditional?.source ?? '',
    };
  } finally {
    bar?.stop();
  }
}

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

// `mirage pack <model>`'s work in Node: open a checkpoint folder or file, check the command's
// flags that bound the output (--max-file-mib, --precision, --temperature, --variant, --max-part-mib),
// and write the pack atomically. The packers are src/core/generate/packers/; cli/commands/pack.ts
// only declares the flags and prints the summary these return; tests call these directly.
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import { hasWeights, openCheckpoint } from '../core/generate/packers/checkpoint.ts';
import { isTransformersJsClip, packClipOnnx } from '../core/generate/packers/clipOnnx.ts';
import { packClip, WEBGPU_DEFAULT_LIMITS } from '../core/generate/packers/clipPack.ts';
import { packVdvae } from '../core/generate/packers/vdvaePack.ts';
import { checkGitCheckpoint, GIT_LARGE_COCO } from '../core/generate/packers/git.ts';
import { packGit, readGitVocab } from '../core/generate/packers/gitPack.ts';
import { packStableCascade, type CascadeVariant } from '../core/generate/packers/cascade/packStableCascade.ts';
import { writeAtomically } from './atomic.ts';
import { fsTree } from './files.ts';
import { progressBar } from './progress.ts';
import { sha256File } from './provenance.ts';

export interface PackClipOptions {
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

export interface PackVdvaeOptions {
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

export interface PackGitOptions {
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

export interface PackCascadeOptions {
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
  const precision = precisionFlag(o.precision);
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
        precision,
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


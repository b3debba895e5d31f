// Model packs (docs/model-packs.md): a manifest plus ONNX files (and small .npy tensors), loaded
// from a URL or folder through the same ShardSource as bundles, every file checked against its
// size and sha256. Each stage names its ONNX inputs/outputs by role, with shapes and dtypes, so a
// real exported graph with other tensor names plugs in by editing the manifest only.
import { z } from 'zod';
import { AbortError, BundleError } from '../base/errors.ts';
import type { ShardSink } from '../bundle/writer.ts';
import type { ShardSource } from '../bundle/source.ts';
import { sha256Hex } from '../bundle/sha256.ts';
import { readNpy, writeNpy } from '../tensor/npy.ts';

export const PACK_FORMAT = 'mirage-model-pack';
export const PACK_VERSION = 1;
export const PACK_MANIFEST = 'modelpack.json';

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), {
    message: 'expected a relative path inside the pack (no "..", no leading "/")',
  });
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256)');

// Shared by every pack kind (model packs here, metric packs in evaluate/featurePacks.ts): where the
// pack came from, and each file with the size and checksum it is verified against before use.
export { relPath as PackPathSchema };
export const PackProvenanceSchema = z.object({
  kind: z.enum(['real', 'stand-in', 'simulated']),
  command: z.string(),
  createdAt: z.string(),
  notes: z.string().optional(),
});
export const PackFileSchema = z.object({ path: relPath, bytes: z.number().int().nonnegative(), sha256 });

export const TENSOR_DTYPES = ['float32', 'float16', 'int64', 'int32', 'uint8'] as const;
export const TensorSpecSchema = z.object({
  /** The ONNX value name. */
  name: z.string().min(1),
  dtype: z.enum(TENSOR_DTYPES),
  /** Dimensions; strings are symbolic (e.g. "batch", "seq"). */
  shape: z.array(z.union([z.number().int().positive(), z.string().min(1)])),
});
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

/**
 * The roles each stage's inputs and outputs must have (the pipeline addresses tensors by role).
 * Optional roles: lowLevelDecoder.inputs.prior_noise (VDVAE's undecoded layers; fed standard-normal
 * seeded noise when present) and imageEncoder.outputs.image_embeds (not used by retrieval pooling).
 */
export const STAGE_IO = {
  lowLevelDecoder: { inputs: ['latents'], outputs: ['px'] },
  latentEncoder: { inputs: ['images'], outputs: ['latents'] },
  priorDenoiser: { inputs: ['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img'], outputs: ['pred'] },
  latentDecoder: { inputs: ['x', 'r', 'effnet', 'clip'], outputs: ['pred'] },
  pixelDecoder: { inputs: ['latents'], outputs: ['images'] },
  imageEncoder: { inputs: ['pixel_values'], outputs: ['last_hidden_state'] },
  captionDecoder: { inputs: ['prompt_features', 'input_ids'], outputs: ['logits'] },
} as const;
export type StageName = keyof typeof STAGE_IO;
export const STAGE_NAMES = Object.keys(STAGE_IO) as StageName[];

const StageSchema = z.object({
  /** ONNX file inside the pack. */
  file: relPath,
  /** What real model this stage stands for, and whether this file is that model or a stand-in. */
  role: z.string(),
  kind: z.enum(['real', 'stand-in', 'simulated']),
  inputs: z.record(z.string(), TensorSpecSchema),
  outputs: z.record(z.string(), TensorSpecSchema),
  /** Stage settings (sizes, normalisation, token ids…): see docs/model-packs.md per stage. */
  settings: z.record(z.string(), z.unknown()).default({}),
});
export type StageSpec = z.infer<typeof StageSchema>;

export const ModelPackSchema = z.object({
  format: z.literal(PACK_FORMAT),
  version: z.literal(PACK_VERSION),
  name: z.string(),
  description: z.string().optional(),
  provenance: PackProvenanceSchema,
  files: z.array(PackFileSchema),
  stages: z.object({
    lowLevelDecoder: StageSchema,
    latentEncoder: StageSchema,
    priorDenoiser: StageSchema,
    latentDecoder: StageSchema,
    pixelDecoder: StageSchema,
    imageEncoder: StageSchema,
    captionDecoder: StageSchema,
  }),
  /** Unconditional conditioning tensors (.npy): Stable Cascade's embeddings of the empty prompt. */
  unconditional: z.object({ clipImg: relPath, clipText: relPath, clipTextPooled: relPath }),
  /** Caption vocabulary (JSON array of token strings, index = token id). */
  vocab: relPath,
  /** Output image side of the generator (pixels). */
  imageSize: z.number().int().positive(),
  /** Which bundle feature space each decoded head must match (shape check when a bundle is paired). */
  headShapes: z.object({
    image: z.array(z.number().int().positive()),
    text: z.array(z.number().int().positive()),
    blurry: z.array(z.number().int().positive()),
    retrieval: z.array(z.number().int().positive()),
    prompt: z.array(z.number().int().positive()),
  }),
});
export type ModelPackManifest = z.infer<typeof ModelPackSchema>;

/** Parses a manifest; throws a BundleError naming the field path on the first problem. */
export function parseModelPack(json: unknown, file = PACK_MANIFEST): ModelPackManifest {
  const r = ModelPackSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new BundleError(file, issue.message, { field: issue.path.join('.') || '(root)' });
  }
  const m = r.data;
  const listed = new Set(m.files.map((f) => f.path));
  const need = (p: string, field: string) => {
    if (!listed.has(p)) throw new BundleError(file, `"${p}" is not listed in files`, { field, expected: 'a path listed in files[]' });
  };
  for (const s of STAGE_NAMES) {
    const st = m.stages[s];
    need(st.file, `stages.${s}.file`);
    for (const dir of ['inputs', 'outputs'] as const) {
      for (const role of STAGE_IO[s][dir]) {
        if (!st[dir][role]) {
          throw new BundleError(file, `missing ${dir.slice(0, -1)} role "${role}"`, {
            field: `stages.${s}.${dir}`,
            expected: `roles ${STAGE_IO[s][dir].join(', ')}`,
          });
        }
      }
    }
  }
  need(m.unconditional.clipImg, 'unconditional.clipImg');
  need(m.unconditional.clipText, 'unconditional.clipText');
  need(m.unconditional.clipTextPooled, 'unconditional.clipTextPooled');
  need(m.vocab, 'vocab');
  return m;
}

export interface PackLoadProgress {
  loadedBytes: number;
  totalBytes: number;
  file: string;
}

/** The pack's files in memory, each checked against the manifest's size and sha256. */
export interface LoadedModelPack {
  manifest: ModelPackManifest;
  source: ShardSource;
  onnx: Record<StageName, Uint8Array>;
  unconditional: { clipImg: Float32Array; clipText: Float32Array; clipTextPooled: Float32Array };
  vocab: string[];
}

/** Reads a model pack (manifest, every ONNX file, tensors, vocab), verifying each file. */
export async function loadModelPack(
  source: ShardSource,
  opts: { signal?: AbortSignal; onProgress?: (p: PackLoadProgress) => void; verify?: boolean } = {},
): Promise<LoadedModelPack> {
  const raw = await source.read(PACK_MANIFEST, { signal: opts.signal });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new BundleError(`${source.label}/${PACK_MANIFEST}`, 'not valid JSON', { cause: e, expected: 'a model pack manifest' });
  }
  const manifest = parseModelPack(json, `${source.label}/${PACK_MANIFEST}`);
  const totalBytes = manifest.files.reduce((a, f) => a + f.bytes, 0);
  let done = 0;
  const files = new Map<string, Uint8Array>();
  for (const f of manifest.files) {
    if (opts.signal?.aborted) throw new AbortError();
    const bytes = await source.read(f.path, {
      signal: opts.signal,
      sha256: f.sha256,
      size: f.bytes,
      onProgress: (l) => opts.onProgress?.({ loadedBytes: done + l, totalBytes, file: f.path }),
    });
    if (bytes.byteLength !== f.bytes) {
      throw new BundleError(f.path, `file has ${bytes.byteLength} bytes`, { field: 'files[].bytes', expected: `${f.bytes}` });
    }
    if (opts.verify !== false) {
      const h = await sha256Hex(bytes);
      if (h !== f.sha256) throw new BundleError(f.path, `sha256 ${h} does not match the manifest`, { field: 'files[].sha256', expected: f.sha256 });
    }
    done += f.bytes;
    opts.onProgress?.({ loadedBytes: done, totalBytes, file: f.path });
    files.set(f.path, bytes);
  }
  const get = (p: string) => files.get(p) as Uint8Array;
  const onnx = Object.fromEntries(STAGE_NAMES.map((s) => [s, get(manifest.stages[s].file)])) as Record<StageName, Uint8Array>;
  const f32 = (p: string) => {
    const a = readNpy(get(p), p);
    return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
  };
  let vocab: unknown;
  try {
    vocab = JSON.parse(new TextDecoder().decode(get(manifest.vocab)));
  } catch (e) {
    throw new BundleError(manifest.vocab, 'not valid JSON', { cause: e, expected: 'a JSON array of token strings' });
  }
  if (!Array.isArray(vocab) || !vocab.every((t) => typeof t === 'string')) {
    throw new BundleError(manifest.vocab, 'vocabulary is not an array of strings', { expected: 'a JSON array of token strings' });
  }
  return {
    manifest,
    source,
    onnx,
    unconditional: {
      clipImg: f32(manifest.unconditional.clipImg),
      clipText: f32(manifest.unconditional.clipText),
      clipTextPooled: f32(manifest.unconditional.clipTextPooled),
    },
    vocab: vocab as string[],
  };
}

/** Writes a pack: files go to the sink as they are added; finish() writes the manifest last. */
export class ModelPackWriter {
  private readonly files: { path: string; bytes: number; sha256: string }[] = [];
  constructor(private readonly sink: ShardSink, private readonly prefix = '') {}

  async addFile(path: string, bytes: Uint8Array): Promise<string> {
    await this.sink.write(this.prefix + path, bytes);
    this.files.push({ path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
    return path;
  }

  addNpy(path: string, data: Float32Array, shape: number[]): Promise<string> {
    return this.addFile(path, writeNpy(data, shape, '<f4'));
  }

  addJson(path: string, value: unknown): Promise<string> {
    return this.addFile(path, new TextEncoder().encode(JSON.stringify(value)));
  }

  async finish(body: Omit<ModelPackManifest, 'format' | 'version' | 'files'>): Promise<ModelPackManifest> {
    const manifest = parseModelPack(
      { format: PACK_FORMAT, version: PACK_VERSION, ...body, files: [...this.files] },
      `${this.prefix}${PACK_MANIFEST} (writer)`,
    );
    await this.sink.write(this.prefix + PACK_MANIFEST, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    return manifest;
  }
}

/** Product of a spec's fixed dims, with symbolic dims bound from `bind` (e.g. { batch: 2 }). */
export function specDims(spec: TensorSpec, bind: Record<string, number>, what: string): number[] {
  return spec.shape.map((d) => {
    if (typeof d === 'number') return d;
    const v = bind[d];
    if (v === undefined) throw new BundleError(what, `symbolic dimension "${d}" has no value`, { field: spec.name });
    return v;
  });
}

// Model packs (docs/model-packs.md): a manifest plus ONNX files (and small .npy tensors), loaded
// from a URL or folder through the same ShardSource as bundles, every file checked against its
// size and sha256. Each stage names its ONNX inputs/outputs by role, with shapes and dtypes, so a
// real exported graph with other tensor names plugs in by editing the manifest only.
import { z } from 'zod';
import { BundleError } from '../base/errors.ts';
import type { ByteProgress } from '../base/progress.ts';
import { packManifestSchema, PackFileSchema, PackFileWriter, PackPathSchema as relPath, PackProvenanceSchema, parsePackManifest, readPackFiles, readPackJson, requireListed, TensorSpecSchema, type TensorSpec } from '../bundle/pack.ts';
import type { ShardSink } from '../bundle/writer.ts';
import type { ShardSource } from '../bundle/source.ts';
import { readNpy, writeNpy } from '../tensor/npy.ts';

// The schemas every pack kind shares live in src/core/bundle/pack.ts; re-exported here for the
// stage code that names them next to the model pack's own (sessions, run-stage, stage packs).
export { PackFileSchema, PackProvenanceSchema, relPath as PackPathSchema, TensorSpecSchema, type TensorSpec };
export { TENSOR_DTYPES } from '../bundle/pack.ts';

export const PACK_FORMAT = 'mirage-model-pack';
export const PACK_VERSION = 1;
export const PACK_MANIFEST = 'modelpack.json';

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

/**
 * Stages only a stage pack carries: no pipeline step runs them, so a full model pack has none.
 * `lowLevelEncoder` is VDVAE's encoder, which `mirage features --model vdvae` runs to compute
 * MIRAGE's low-level targets of new images (docs/model-packs.md, "VDVAE").
 */
export const EXTRA_STAGE_IO = { lowLevelEncoder: { inputs: ['pixels'], outputs: ['latents'] } } as const;
export const PACKED_STAGE_IO = { ...STAGE_IO, ...EXTRA_STAGE_IO } as const;
export type PackedStageName = keyof typeof PACKED_STAGE_IO;
export const PACKED_STAGE_NAMES = Object.keys(PACKED_STAGE_IO) as PackedStageName[];

/**
 * One link of a stage stored as a chain of graphs (stageChain.ts): a model too large for one
 * session is cut into consecutive parts that read the stage's inputs and earlier parts' outputs by
 * ONNX name; the last part writes the stage's outputs.
 */
export const StagePartSchema = z.object({
  file: relPath,
  /** ONNX external-data files of this part's weights. */
  data: z.array(relPath).optional(),
  /** ONNX names it reads: stage inputs or earlier parts' outputs. */
  inputs: z.array(z.string().min(1)).min(1),
  /** What it writes: hand-offs, or (last part) the stage's outputs. */
  outputs: z.array(TensorSpecSchema).min(1),
});
export type StagePart = z.infer<typeof StagePartSchema>;

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
  /** A chained stage's parts, in order (`file` is then the first part's). */
  parts: z.array(StagePartSchema).optional(),
});
export type StageSpec = z.infer<typeof StageSchema>;

export const ModelPackSchema = packManifestSchema(PACK_FORMAT, PACK_VERSION, {
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
  const m = parsePackManifest(ModelPackSchema, json, file);
  requireListed(m.files, file, [
    ...STAGE_NAMES.map((s) => [m.stages[s].file, `stages.${s}.file`] as const),
    [m.unconditional.clipImg, 'unconditional.clipImg'],
    [m.unconditional.clipText, 'unconditional.clipText'],
    [m.unconditional.clipTextPooled, 'unconditional.clipTextPooled'],
    [m.vocab, 'vocab'],
  ]);
  for (const s of STAGE_NAMES) {
    const st = m.stages[s];
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
  return m;
}

export type PackLoadProgress = ByteProgress;

/** An ONNX external-data file: the path the graph names (relative to its model file) and its bytes. */
export interface ExternalDataFile {
  path: string;
  data: Uint8Array;
}

/** Where one stage of a loaded pack came from and which build of it was loaded (UI, provenance). */
export interface StageOrigin {
  /** The name of the pack the stage was read from (the base pack, or a stage pack of a composite). */
  pack: string;
  /** That pack's location (URL or folder). */
  source: string;
  kind: 'real' | 'stand-in' | 'simulated';
  /** float32 or float16: the weights loaded. */
  precision: string;
  /** The variant key loaded (e.g. "float16"), absent for the stage's own file. */
  variant?: string;
  /** Why that build (precision.ts). */
  reason: string;
  /** Bytes of the graph and its external-data files. */
  bytes: number;
  files: number;
}

/** One part of a chained stage, read: its names, graph and external-data files. */
export interface LoadedStagePart {
  file: string;
  inputs: string[];
  outputs: string[];
  onnx: Uint8Array;
  externalData: ExternalDataFile[];
}

/**
 * The pack whose unconditional tensors a reconstruction uses, and whether they are real: a stage
 * pack says so (`computed` false: zeros standing in for the empty prompt's CLIP encodings, e.g.
 * `mirage pack stable-cascade` without --clip-text); a model pack's own constants say nothing (null).
 */
export interface UnconditionalOrigin {
  pack: string;
  computed: boolean | null;
  source: string;
}

/** One build of a stage, read: its graph, weights, parts, and where it came from. */
export interface StageBuild {
  onnx: Uint8Array;
  externalData?: ExternalDataFile[];
  parts?: LoadedStagePart[];
  origin: StageOrigin;
}

/** The pack's files in memory, each checked against the manifest's size and sha256. */
export interface LoadedModelPack {
  manifest: ModelPackManifest;
  source: ShardSource;
  onnx: Record<StageName, Uint8Array>;
  unconditional: { clipImg: Float32Array; clipText: Float32Array; clipTextPooled: Float32Array };
  /** Where `unconditional` came from (packOpen.ts; absent for packs read by loadModelPack). */
  unconditionalOrigin?: UnconditionalOrigin;
  vocab: string[];
  /** Per stage, the ONNX external-data files its graph refers to (real packs keep weights outside the protobuf). */
  externalData?: Partial<Record<StageName, ExternalDataFile[]>>;
  /** Per chained stage (`parts` in its entry), every part's graph and weights, in order (stageChain.ts). */
  parts?: Partial<Record<StageName, LoadedStagePart[]>>;
  /** Per stage, the pack and build it came from (packOpen.ts); absent for packs read by loadModelPack. */
  origins?: Record<StageName, StageOrigin>;
  /**
   * The build of a stage for wasm (packOpen.ts): a stage loaded in float16 for WebGPU that ends up
   * on wasm (a fallback) reads its float32 build through this; null when the loaded build is already
   * the one for wasm. Absent for packs read by loadModelPack (one build only).
   */
  wasmBuild?: (stage: StageName, why: string) => Promise<StageBuild | null>;
  /** A composite pack's name and parts (packOpen.ts); absent for a plain model pack. */
  composite?: { name: string; base: string; parts: { stage: StageName; pack: string; source: string }[] };
}

/** The float32 values of a pack's .npy tensor. */
export function npyFloat32(bytes: Uint8Array, path: string): Float32Array {
  const a = readNpy(bytes, path);
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>);
}

/** The pack's caption vocabulary (a JSON array of strings), or a BundleError naming the file. */
export function parseVocab(bytes: Uint8Array, path: string): string[] {
  let vocab: unknown;
  try {
    vocab = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BundleError(path, 'not valid JSON', { cause: e, expected: 'a JSON array of token strings' });
  }
  if (!Array.isArray(vocab) || !vocab.every((t) => typeof t === 'string')) {
    throw new BundleError(path, 'vocabulary is not an array of strings', { expected: 'a JSON array of token strings' });
  }
  return vocab as string[];
}

/**
 * Reads a model pack (manifest, every listed file, tensors, vocab), verifying each file. The page and
 * the CLI's reconstruction open packs with `openModelPack` (packOpen.ts) instead: composite packs,
 * external-data weights, one precision build per stage, only the files the stages use.
 */
export async function loadModelPack(
  source: ShardSource,
  opts: { signal?: AbortSignal; onProgress?: (p: PackLoadProgress) => void; verify?: boolean } = {},
): Promise<LoadedModelPack> {
  const manifest = parseModelPack(await readPackJson(source, PACK_MANIFEST, 'a model pack manifest', opts.signal), `${source.label}/${PACK_MANIFEST}`);
  const files = await readPackFiles(source, manifest.files, undefined, opts);
  const get = (p: string) => files.get(p) as Uint8Array;
  const onnx = Object.fromEntries(STAGE_NAMES.map((s) => [s, get(manifest.stages[s].file)])) as Record<StageName, Uint8Array>;
  const f32 = (p: string) => npyFloat32(get(p), p);
  const vocab = parseVocab(get(manifest.vocab), manifest.vocab);
  return {
    manifest,
    source,
    onnx,
    unconditional: {
      clipImg: f32(manifest.unconditional.clipImg),
      clipText: f32(manifest.unconditional.clipText),
      clipTextPooled: f32(manifest.unconditional.clipTextPooled),
    },
    vocab,
  };
}

/** Writes a pack: files go to the sink as they are added; finish() writes the manifest last. */
export class ModelPackWriter {
  private readonly out: PackFileWriter;
  constructor(sink: ShardSink, private readonly prefix = '') {
    this.out = new PackFileWriter(sink, prefix);
  }

  addFile(path: string, bytes: Uint8Array): Promise<string> {
    return this.out.add(path, bytes);
  }

  addNpy(path: string, data: Float32Array, shape: number[]): Promise<string> {
    return this.addFile(path, writeNpy(data, shape, '<f4'));
  }

  addJson(path: string, value: unknown): Promise<string> {
    return this.addFile(path, new TextEncoder().encode(JSON.stringify(value)));
  }

  async finish(body: Omit<ModelPackManifest, 'format' | 'version' | 'files'>): Promise<ModelPackManifest> {
    const manifest = parseModelPack(
      { format: PACK_FORMAT, version: PACK_VERSION, ...body, files: [...this.out.files] },
      `${this.prefix}${PACK_MANIFEST} (writer)`,
    );
    await this.out.writeManifest(PACK_MANIFEST, manifest, 1);
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

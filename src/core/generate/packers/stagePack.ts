// One stage of a pack, on its own. `mirage pack clip` writes a *stage pack*: the model-pack manifest's
// provenance, files (size + sha256) and stage entries (roles, ONNX names, shapes), but only for the
// stages that real checkpoint provides, so a real CLIP pack is usable (run-stage, features) without
// inventing the six other models. `loadPackStage` reads one stage from either kind of pack (a full
// model pack or a stage pack), verifying every file it reads and nothing else, so running the CLIP
// tower of a 10 GB pack does not read the other stages.
import { z } from 'zod';
import { BundleError } from '../../base/errors.ts';
import type { ByteProgress } from '../../base/progress.ts';
import { packManifestSchema, PackFileWriter, readPackFiles, readPackJson } from '../../bundle/pack.ts';
import type { ShardSink } from '../../bundle/writer.ts';
import type { GraphBuilder } from '../../onnx/builder.ts';
import type { GraphPrecision } from './graphWeights.ts';
import type { ShardSource } from '../../bundle/source.ts';
import {
  ModelPackSchema,
  PACK_FORMAT,
  PACK_MANIFEST,
  PACK_VERSION,
  PackFileSchema,
  PackPathSchema,
  PackProvenanceSchema,
  // Stage packs also hold the stages no pipeline step runs (EXTRA_STAGE_IO: VDVAE's encoder).
  PACKED_STAGE_IO as STAGE_IO,
  PACKED_STAGE_NAMES as STAGE_NAMES,
  type PackedStageName as StageName,
  type StageSpec,
  StagePartSchema,
  type LoadedStagePart,
} from '../modelPack.ts';
import { checkChain } from '../stageChain.ts';

export const STAGE_PACK_FORMAT = 'mirage-stage-pack';

const StageSchema = ModelPackSchema.shape.stages.shape.imageEncoder;

/** The graph file and its external-data files (weights kept out of the protobuf). */
const GraphFilesSchema = z.object({ file: PackPathSchema, data: z.array(PackPathSchema).optional(), parts: z.array(StagePartSchema).optional() });
/**
 * A stage entry plus its external-data files, and other builds of the same stage with the same
 * roles and shapes (e.g. `float16`: half-precision weights and arithmetic, for WebGPU with
 * shader-f16), one of which the loader picks.
 */
const PackedStageSchema = StageSchema.extend({ data: z.array(PackPathSchema).optional(), variants: z.record(z.string(), GraphFilesSchema).optional() });
export type PackedStage = z.infer<typeof PackedStageSchema>;

/**
 * Conditioning constants a generator's stage pack carries (Stable Cascade: the CLIP embeddings of
 * the empty prompt and a zero image), with where they came from: `computed` false means zeros
 * standing in for embeddings nobody computed (no text encoder was given), shown as such.
 */
const UnconditionalSchema = z.object({ clipImg: PackPathSchema, clipText: PackPathSchema, clipTextPooled: PackPathSchema, computed: z.boolean(), source: z.string() });

export const StagePackSchema = packManifestSchema(STAGE_PACK_FORMAT, PACK_VERSION, {
  stages: z.partialRecord(z.enum(STAGE_NAMES as [StageName, ...StageName[]]), PackedStageSchema),
  unconditional: UnconditionalSchema.optional(),
});
export type StagePackManifest = z.infer<typeof StagePackSchema>;

function fail(file: string, issue: z.core.$ZodIssue): never {
  throw new BundleError(file, issue.message, { field: issue.path.join('.') || '(root)' });
}

/** Checks a stage entry's roles and that its files are listed; throws naming the field. */
function checkStage(file: string, stage: StageName, st: PackedStage, listed: Set<string>): void {
  const partFiles = (parts: PackedStage['parts']) => (parts ?? []).flatMap((p) => [p.file, ...(p.data ?? [])]);
  const variantFiles = Object.values(st.variants ?? {}).flatMap((v) => [v.file, ...(v.data ?? []), ...partFiles(v.parts)]);
  for (const p of [st.file, ...(st.data ?? []), ...partFiles(st.parts), ...variantFiles]) {
    if (!listed.has(p)) throw new BundleError(file, `"${p}" is not listed in files`, { field: `stages.${stage}`, expected: 'a path listed in files[]' });
  }
  for (const dir of ['inputs', 'outputs'] as const) {
    for (const role of STAGE_IO[stage][dir]) {
      if (!st[dir][role]) {
        throw new BundleError(file, `missing ${dir.slice(0, -1)} role "${role}"`, { field: `stages.${stage}.${dir}`, expected: `roles ${STAGE_IO[stage][dir].join(', ')}` });
      }
    }
  }
  const names = (io: PackedStage['inputs']) => Object.values(io).map((t) => t.name);
  if (st.parts) checkChain(file, `stages.${stage}`, st.parts, names(st.inputs), names(st.outputs));
  for (const [k, v] of Object.entries(st.variants ?? {})) if (v.parts) checkChain(file, `stages.${stage}.variants.${k}`, v.parts, names(st.inputs), names(st.outputs));
}

/** Parses a stage pack manifest; throws a BundleError naming the field path on the first problem. */
export function parseStagePack(json: unknown, file = PACK_MANIFEST): StagePackManifest {
  const r = StagePackSchema.safeParse(json);
  if (!r.success) fail(file, r.error.issues[0]);
  const listed = new Set(r.data.files.map((f) => f.path));
  for (const [stage, st] of Object.entries(r.data.stages) as [StageName, PackedStage][]) checkStage(file, stage, st, listed);
  return r.data;
}

/** One stage read from a pack: its spec, its ONNX bytes and its external-data files, each verified. */
export interface LoadedStage {
  packName: string;
  packKind: 'model' | 'stage';
  provenance: z.infer<typeof PackProvenanceSchema>;
  stage: StageName;
  /** The stage's entry, with `file` and `data` of the variant that was asked for. */
  spec: PackedStage;
  onnx: Uint8Array;
  /** External weight files (ONNX external data), by the path the graph names. */
  externalData: { path: string; data: Uint8Array }[];
  /** A chained stage's parts (generate/stageChain.ts), each with its graph and weights; `onnx` is the first's. */
  parts?: LoadedStagePart[];
}

export type StageLoadProgress = ByteProgress;

/** Reads one stage of a model pack or a stage pack (manifest, ONNX file, external data), verifying size and sha256. */
export async function loadPackStage(
  source: ShardSource,
  stage: string,
  opts: { signal?: AbortSignal; onProgress?: (p: StageLoadProgress) => void; variant?: string } = {},
): Promise<LoadedStage> {
  const where = `${source.label}/${PACK_MANIFEST}`;
  const json = (await readPackJson(source, PACK_MANIFEST, 'a model pack or stage pack manifest', opts.signal)) as { format?: unknown } | null;
  let stages: Partial<Record<StageName, PackedStage>>;
  let files: z.infer<typeof PackFileSchema>[];
  let header: { name: string; provenance: LoadedStage['provenance']; kind: LoadedStage['packKind'] };
  if (json?.format === STAGE_PACK_FORMAT) {
    const m = parseStagePack(json, where);
    stages = m.stages;
    files = m.files;
    header = { name: m.name, provenance: m.provenance, kind: 'stage' };
  } else if (json?.format === PACK_FORMAT) {
    // A full pack: only the asked stage must be valid here (the app validates the whole pack when it opens it).
    const r = z.object({ name: z.string(), provenance: PackProvenanceSchema, files: z.array(PackFileSchema), stages: z.record(z.string(), z.unknown()) }).safeParse(json);
    if (!r.success) fail(where, r.error.issues[0]);
    const raw = r.data.stages[stage];
    if (raw !== undefined && (STAGE_NAMES as string[]).includes(stage)) {
      const s = PackedStageSchema.safeParse(raw);
      if (!s.success) fail(where, { ...s.error.issues[0], path: ['stages', stage, ...s.error.issues[0].path] });
      stages = { [stage]: s.data };
    } else stages = {};
    files = r.data.files;
    header = { name: r.data.name, provenance: r.data.provenance, kind: 'model' };
  } else {
    throw new BundleError(where, `format is ${JSON.stringify(json?.format)}`, { field: 'format', expected: `"${PACK_FORMAT}" or "${STAGE_PACK_FORMAT}"` });
  }
  const names = Object.keys(stages) as StageName[];
  if (!(STAGE_NAMES as string[]).includes(stage) || !stages[stage as StageName]) {
    throw new BundleError(where, `no stage "${stage}"`, { field: 'stages', expected: names.length ? names.join(', ') : STAGE_NAMES.join(', ') });
  }
  const name = stage as StageName;
  const declared = stages[name] as PackedStage;
  checkStage(where, name, declared, new Set(files.map((f) => f.path)));
  let spec = declared;
  if (opts.variant) {
    const v = declared.variants?.[opts.variant];
    if (!v) throw new BundleError(where, `stage ${name} has no variant "${opts.variant}"`, { field: `stages.${name}.variants`, expected: Object.keys(declared.variants ?? {}).join(', ') || 'no variants in this pack' });
    spec = { ...declared, file: v.file, data: v.data, parts: v.parts };
  }
  const partFiles = (spec.parts ?? []).flatMap((p) => [p.file, ...(p.data ?? [])]);
  const read = await readPackFiles(source, files, [...new Set([spec.file, ...(spec.data ?? []), ...partFiles])], opts);
  return {
    packName: header.name,
    packKind: header.kind,
    provenance: header.provenance,
    stage: name,
    spec,
    onnx: read.get(spec.file) as Uint8Array,
    externalData: (spec.data ?? []).map((p) => ({ path: externalDataPath(spec.file, p), data: read.get(p) as Uint8Array })),
    ...(spec.parts
      ? {
          parts: spec.parts.map((p) => ({
            file: p.file,
            inputs: p.inputs,
            outputs: p.outputs.map((o) => o.name),
            onnx: read.get(p.file) as Uint8Array,
            externalData: (p.data ?? []).map((d) => ({ path: externalDataPath(p.file, d), data: read.get(d) as Uint8Array })),
          })),
        }
      : {}),
  };
}

/** The location an ONNX file uses for a data file of the pack (external data paths are relative to the model file). */
export function externalDataPath(modelFile: string, dataFile: string): string {
  const dir = modelFile.includes('/') ? modelFile.slice(0, modelFile.lastIndexOf('/') + 1) : '';
  if (!dataFile.startsWith(dir)) throw new BundleError(dataFile, 'external data must sit next to its model file', { field: 'stages[].data', expected: `a path under "${dir}"` });
  return dataFile.slice(dir.length);
}

/**
 * Writes a graph as `models/<base>.onnx` with its weights in external-data files of at most
 * `maxFileBytes` (`models/<base>.weights-<i>.bin`); returns the stage's `file` and `data`.
 */
export async function addGraphFiles(w: StagePackWriter, g: GraphBuilder, base: string, maxFileBytes: number): Promise<{ file: string; data: string[] }> {
  const { model, files } = g.toBytesWithExternalData({ fileName: (i) => `${base}.weights-${i}.bin`, maxFileBytes });
  const file = await w.addFile(`models/${base}.onnx`, model);
  const data: string[] = [];
  for (const f of files) data.push(await w.addFile(`models/${f.name}`, f.bytes));
  return { file, data };
}

/**
 * One graph per precision (`both`: float32 then float16), each built and written before the next is
 * built (one copy of the weights in memory at a time): the first is the stage's `file`/`data`, the
 * others its `variants` (`<base>.f16` for float16).
 */
export async function addPrecisionGraphs(
  w: StagePackWriter,
  build: (precision: GraphPrecision) => Promise<GraphBuilder>,
  base: string,
  precision: GraphPrecision | 'both',
  maxFileBytes: number,
): Promise<{ files: { file: string; data: string[]; variants?: Record<string, { file: string; data: string[] }> }; precisions: GraphPrecision[] }> {
  const precisions: GraphPrecision[] = precision === 'both' ? ['float32', 'float16'] : [precision];
  const graphs: { precision: GraphPrecision; file: string; data: string[] }[] = [];
  for (const p of precisions) graphs.push({ precision: p, ...(await addGraphFiles(w, await build(p), `${base}${p === 'float16' ? '.f16' : ''}`, maxFileBytes)) });
  const [main, ...others] = graphs;
  const variants = Object.fromEntries(others.map((o) => [o.precision, { file: o.file, data: o.data }]));
  return { files: { file: main.file, data: main.data, ...(others.length ? { variants } : {}) }, precisions };
}

/** Writes a stage pack: files go to the sink as they are added; finish() writes the manifest last. */
export class StagePackWriter {
  private readonly out: PackFileWriter;
  constructor(sink: ShardSink) {
    this.out = new PackFileWriter(sink);
  }

  addFile(path: string, bytes: Uint8Array): Promise<string> {
    return this.out.add(path, bytes);
  }

  async finish(body: Omit<StagePackManifest, 'format' | 'version' | 'files'>): Promise<StagePackManifest> {
    const manifest = parseStagePack({ format: STAGE_PACK_FORMAT, version: PACK_VERSION, ...body, files: [...this.out.files] }, `${PACK_MANIFEST} (writer)`);
    await this.out.writeManifest(PACK_MANIFEST, manifest, 1);
    return manifest;
  }
}

export type { StageSpec };

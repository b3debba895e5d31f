// Opening a model pack for reconstruction, in the page and in the CLI alike. Three things beyond
// `loadModelPack`:
// - Composite packs: a small manifest (`"format": "mirage-composite-pack"`) naming a base model pack
//   and, per stage, a pack to take that stage from (a `mirage pack vdvae|clip|…` stage pack, or a
//   stage of another full pack), so real models replace stand-ins stage by stage without copying
//   gigabytes into a new pack. Refs are folders or URLs relative to the composite's folder, opened
//   through a resolver the environment hands in (HttpShardSource.sibling in the page, folders on
//   disk in the CLI). docs/model-packs.md, "Composite packs".
// - ONNX external data: each stage's weight files are read (size + sha256 checked) and handed to
//   the session with the paths the graph names.
// - One build per stage (precision.ts), chosen before anything is read, and only the files the
//   chosen builds, the unconditional tensors and the vocabulary use are read. A stage that later
//   falls back to wasm reads its wasm build then (`wasmBuild`, called by PackSessions).
import { z } from 'zod';
import { BundleError } from '../base/errors.ts';
import type { ByteProgress } from '../base/progress.ts';
import { parsePackManifest, readPackFiles, readPackJson, type PackFile } from '../bundle/pack.ts';
import type { ShardSource } from '../bundle/source.ts';
import {
  npyFloat32,
  PACK_FORMAT,
  PACK_MANIFEST,
  parseModelPack,
  parseVocab,
  STAGE_NAMES,
  type ExternalDataFile,
  type LoadedModelPack,
  type UnconditionalOrigin,
  type LoadedStagePart,
  type ModelPackManifest,
  type StageBuild,
  type StageName,
  type StageOrigin,
} from './modelPack.ts';
import { externalDataPath, parseStagePack, STAGE_PACK_FORMAT, type PackedStage } from './packers/stagePack.ts';
import { choosePrecision, type PrecisionSetting } from './precision.ts';

export const COMPOSITE_FORMAT = 'mirage-composite-pack';

export const CompositePackSchema = z.object({
  format: z.literal(COMPOSITE_FORMAT),
  version: z.literal(1),
  name: z.string(),
  description: z.string().optional(),
  /** The full model pack every stage not listed in `stages` comes from (with its tensors and vocabulary). */
  base: z.string().min(1),
  /** Stage -> the pack (stage pack or model pack) to take it from. */
  stages: z.partialRecord(z.enum(STAGE_NAMES as [StageName, ...StageName[]]), z.string().min(1)),
});
export type CompositePack = z.infer<typeof CompositePackSchema>;

/** Opens the pack a composite's ref names (relative to the composite's folder). */
export type PackResolver = (ref: string) => ShardSource;

/** Byte progress of a pack load: all files, and the one being read. */
export interface PackFileProgress extends ByteProgress {
  /** Bytes of `file` read so far (cached files count at once), and its size. */
  fileLoadedBytes: number;
  fileBytes: number;
  /** Index of `file` among `fileCount` files. */
  fileIndex: number;
  fileCount: number;
  /** The pack the file belongs to. */
  pack: string;
}

export interface OpenPackOptions {
  signal?: AbortSignal;
  onProgress?: (p: PackFileProgress) => void;
  /** Opens a composite's refs; default: the source's own `sibling(ref)` (HttpShardSource). */
  resolve?: PackResolver;
  /** Which build to load per stage (precision.ts); default 'auto'. */
  precision?: PrecisionSetting;
  /** Whether a stage's session will run on WebGPU (default: none). */
  onWebgpu?: (stage: StageName) => boolean;
  /** Whether the WebGPU adapter has shader-f16 (default false). */
  shaderF16?: boolean;
  verify?: boolean;
}

/** Parses a composite manifest; throws a BundleError naming the field path. */
export function parseCompositePack(json: unknown, file = PACK_MANIFEST): CompositePack {
  const m = parsePackManifest(CompositePackSchema, json, file);
  if (!Object.keys(m.stages).length) throw new BundleError(file, 'a composite pack replaces no stage', { field: 'stages', expected: `at least one of ${STAGE_NAMES.join(', ')}` });
  return m;
}

/** A folder path inside the same tree as `dir`, `ref` resolved against it ("modelpack/" + "../clip" -> "clip/"). */
export function resolveFolderRef(dir: string, ref: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith('/')) throw new BundleError(ref, 'an absolute location cannot be opened from a folder', { expected: 'a path relative to the composite pack' });
  const out: string[] = dir.split('/').filter(Boolean);
  for (const seg of ref.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (!out.length) throw new BundleError(ref, 'leaves the folder the pack was opened from', { expected: 'a path inside it' });
      out.pop();
    } else out.push(seg);
  }
  return out.length ? `${out.join('/')}/` : '';
}

function siblingResolver(source: ShardSource): PackResolver {
  const s = source as ShardSource & { sibling?: (ref: string) => ShardSource };
  if (typeof s.sibling === 'function') return (ref) => s.sibling!(ref);
  return (ref) => {
    throw new BundleError(ref, `cannot open a composite part from ${source.label}`, { expected: 'a resolver for this kind of source' });
  };
}

/**
 * The decoded heads a stage consumes or produces: a replacing stage must take (or give) as many
 * values per row as the base pack's head shape, or the bundle's decoders could not feed it.
 */
const HEAD_CONTRACTS: { stage: StageName; dir: 'inputs' | 'outputs'; role: string; head: keyof ModelPackManifest['headShapes'] }[] = [
  { stage: 'lowLevelDecoder', dir: 'inputs', role: 'latents', head: 'blurry' },
  { stage: 'imageEncoder', dir: 'outputs', role: 'last_hidden_state', head: 'retrieval' },
  { stage: 'captionDecoder', dir: 'inputs', role: 'prompt_features', head: 'prompt' },
  { stage: 'priorDenoiser', dir: 'inputs', role: 'clip_text', head: 'text' },
  { stage: 'priorDenoiser', dir: 'inputs', role: 'clip_img', head: 'image' },
];

const fixedSize = (shape: readonly (number | string)[]) => shape.reduce<number>((a, d) => (typeof d === 'number' ? a * d : a), 1);

function checkHeads(where: string, stage: StageName, spec: PackedStage, from: string, base: ModelPackManifest): void {
  for (const c of HEAD_CONTRACTS.filter((x) => x.stage === stage)) {
    const ts = spec[c.dir][c.role];
    const want = fixedSize(base.headShapes[c.head]);
    if (ts && fixedSize(ts.shape) !== want) {
      throw new BundleError(where, `stage ${stage} from ${from} has ${c.role} [${ts.shape.join(', ')}]: ${fixedSize(ts.shape)} values per row`, {
        field: `stages.${stage}`,
        expected: `${want} values, the base pack's "${c.head}" head [${base.headShapes[c.head].join(', ')}]`,
      });
    }
  }
}

/** A model pack's or stage pack's stages with their external data and variants (parseStagePack checks roles and listing). */
function packedStages(json: unknown, where: string): { name: string; kind: StageOrigin['kind']; files: PackFile[]; stages: Partial<Record<StageName, PackedStage>>; unconditional?: ModelPackManifest['unconditional'] } {
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== PACK_FORMAT && format !== STAGE_PACK_FORMAT) {
    throw new BundleError(where, `format is ${JSON.stringify(format)}`, { field: 'format', expected: `"${PACK_FORMAT}" or "${STAGE_PACK_FORMAT}"` });
  }
  // A full pack read through the stage-pack schema keeps each stage's `data` and `variants` (the
  // model-pack schema drops them); its own `unconditional` is the model pack's, read by parseModelPack.
  const full = format === PACK_FORMAT;
  const m = parseStagePack({ ...(json as object), format: STAGE_PACK_FORMAT, ...(full ? { unconditional: undefined } : {}) }, where);
  return { name: m.name, kind: m.provenance.kind, files: m.files, stages: m.stages, unconditional: m.unconditional };
}

const KIND_ORDER: StageOrigin['kind'][] = ['real', 'stand-in', 'simulated'];

/** One build of a declared stage (a variant, or the stage's own file) as a stage entry. */
function buildOf(declared: PackedStage, variant: string | undefined): PackedStage {
  const build = variant ? declared.variants![variant] : declared;
  return { ...declared, file: build.file, data: build.data, parts: build.parts };
}

/** Every file a build reads: its graph and weights, and a chained stage's every part (stageChain.ts). */
function buildPaths(spec: PackedStage): string[] {
  return [...new Set([spec.file, ...(spec.data ?? []), ...(spec.parts ?? []).flatMap((p) => [p.file, ...(p.data ?? [])])])];
}

/** A build's graph, external data and parts from the files read (`get` by path). */
function readBuild(spec: PackedStage, get: (path: string) => Uint8Array): Omit<StageBuild, 'origin'> {
  return {
    onnx: get(spec.file),
    ...(spec.data?.length ? { externalData: spec.data.map((p) => ({ path: externalDataPath(spec.file, p), data: get(p) })) } : {}),
    ...(spec.parts
      ? {
          parts: spec.parts.map((p) => ({
            file: p.file,
            inputs: p.inputs,
            outputs: p.outputs.map((o) => o.name),
            onnx: get(p.file),
            externalData: (p.data ?? []).map((d) => ({ path: externalDataPath(p.file, d), data: get(d) })),
          })),
        }
      : {}),
  };
}

interface Planned {
  source: ShardSource;
  files: PackFile[];
  path: string;
  pack: string;
}

/** Opens a model pack or a composite pack (see the file's head comment), reading only what its stages use. */
export async function openModelPack(source: ShardSource, opts: OpenPackOptions = {}): Promise<LoadedModelPack> {
  const rootWhere = `${source.label}/${PACK_MANIFEST}`;
  const root = await readPackJson(source, PACK_MANIFEST, 'a model pack or composite pack manifest', opts.signal);
  const resolve = opts.resolve ?? siblingResolver(source);
  let composite: CompositePack | null = null;
  let baseSource = source;
  let baseJson = root;
  if ((root as { format?: unknown } | null)?.format === COMPOSITE_FORMAT) {
    composite = parseCompositePack(root, rootWhere);
    baseSource = resolve(composite.base);
    baseJson = await readPackJson(baseSource, PACK_MANIFEST, `the base model pack of ${rootWhere}`, opts.signal);
  }
  const baseWhere = `${baseSource.label}/${PACK_MANIFEST}`;
  const base = parseModelPack(baseJson, baseWhere);
  const baseStages = packedStages(baseJson, baseWhere);

  const parts = new Map<string, { source: ShardSource; packed: ReturnType<typeof packedStages> }>();
  const plan: Planned[] = [];
  const stageFiles = {} as Record<StageName, { spec: PackedStage; declared: PackedStage; source: ShardSource; pack: string; files: PackFile[] }>;
  const origins = {} as Record<StageName, StageOrigin>;
  const stages = { ...base.stages };
  for (const stage of STAGE_NAMES) {
    const ref = composite?.stages[stage];
    let from = { source: baseSource, packed: baseStages };
    if (ref !== undefined) {
      let part = parts.get(ref);
      if (!part) {
        const src = resolve(ref);
        const where = `${src.label}/${PACK_MANIFEST}`;
        part = { source: src, packed: packedStages(await readPackJson(src, PACK_MANIFEST, `a stage pack named by ${rootWhere}`, opts.signal), where) };
        parts.set(ref, part);
      }
      from = part;
    }
    const declared = from.packed.stages[stage];
    if (!declared) {
      throw new BundleError(rootWhere, `${from.source.label} has no stage "${stage}"`, { field: `stages.${stage}`, expected: `a pack with that stage (it has ${Object.keys(from.packed.stages).join(', ') || 'none'})` });
    }
    if (ref !== undefined) checkHeads(rootWhere, stage, declared, from.source.label, base);
    const choice = choosePrecision(declared, { setting: opts.precision ?? 'auto', onWebgpu: opts.onWebgpu?.(stage) ?? false, shaderF16: opts.shaderF16 ?? false });
    const spec = buildOf(declared, choice.variant);
    const paths = buildPaths(spec);
    for (const path of paths) plan.push({ source: from.source, files: from.packed.files, path, pack: from.packed.name });
    stageFiles[stage] = { spec, declared, source: from.source, pack: from.packed.name, files: from.packed.files };
    origins[stage] = { pack: from.packed.name, source: from.source.label, kind: from.packed.kind, precision: choice.precision, variant: choice.variant, reason: choice.reason, bytes: planBytes(from.packed.files, paths), files: paths.length };
    const { data: _data, variants: _variants, ...plain } = spec;
    stages[stage] = plain;
  }
  // The unconditional embeddings go with the generator: a prior denoiser taken from a stage pack that
  // carries its own (Stable Cascade's) brings them, else the base pack's are used.
  const prior = composite?.stages.priorDenoiser !== undefined ? parts.get(composite.stages.priorDenoiser) : undefined;
  const uFrom = prior?.packed.unconditional ? { source: prior.source, files: prior.packed.files, u: prior.packed.unconditional, pack: prior.packed.name } : { source: baseSource, files: base.files, u: base.unconditional, pack: base.name };
  const u = uFrom.u;
  for (const path of [u.clipImg, u.clipText, u.clipTextPooled]) plan.push({ source: uFrom.source, files: uFrom.files, path, pack: uFrom.pack });
  plan.push({ source: baseSource, files: base.files, path: base.vocab, pack: base.name });
  // A caption decoder from another pack tokenises with its own vocabulary (GiT: `settings.vocab`).
  const cap = stageFiles.captionDecoder;
  const capVocab = cap.source !== baseSource && typeof cap.spec.settings.vocab === 'string' ? cap.spec.settings.vocab : null;
  if (capVocab) plan.push({ source: cap.source, files: parts.get(composite!.stages.captionDecoder!)!.packed.files, path: capVocab, pack: cap.pack });

  const read = await readPlan(plan, opts);
  const get = (source: ShardSource, path: string) => read.get(`${source.label}\n${path}`) as Uint8Array;
  const onnx = {} as Record<StageName, Uint8Array>;
  const externalData: Partial<Record<StageName, ExternalDataFile[]>> = {};
  const chains: Partial<Record<StageName, LoadedStagePart[]>> = {};
  for (const stage of STAGE_NAMES) {
    const { spec, source: src } = stageFiles[stage];
    const b = readBuild(spec, (p) => get(src, p));
    onnx[stage] = b.onnx;
    if (b.externalData) externalData[stage] = b.externalData;
    if (b.parts) chains[stage] = b.parts;
  }
  // A stage that ends up on wasm though its build was chosen for WebGPU (a fallback) is decided
  // again with onWebgpu false: under 'auto' its float32 build is read now (the same sources, so the
  // same cache and checks); null when the loaded build is already the wasm one.
  const wasmBuild = async (stage: StageName, why: string): Promise<StageBuild | null> => {
    const { declared, source: src, files } = stageFiles[stage];
    const choice = choosePrecision(declared, { setting: opts.precision ?? 'auto', onWebgpu: false, shaderF16: opts.shaderF16 ?? false, fellBack: why });
    if (choice.variant === origins[stage].variant) return null;
    const spec = buildOf(declared, choice.variant);
    const paths = buildPaths(spec);
    const got = await readPlan(paths.map((path) => ({ source: src, files, path, pack: origins[stage].pack })), { verify: opts.verify });
    const b = readBuild(spec, (p) => got.get(`${src.label}\n${p}`) as Uint8Array);
    return { ...b, origin: { ...origins[stage], precision: choice.precision, variant: choice.variant, reason: choice.reason, bytes: planBytes(files, paths), files: paths.length } };
  };
  const kinds = new Set(Object.values(origins).map((o) => o.kind));
  const kind = KIND_ORDER.reduce<StageOrigin['kind']>((k, x) => (kinds.has(x) ? x : k), 'real');
  const replaced = composite ? (Object.keys(composite.stages) as StageName[]) : [];
  const manifest: ModelPackManifest = composite
    ? {
        ...base,
        name: composite.name,
        description: composite.description ?? base.description,
        provenance: {
          ...base.provenance,
          kind,
          notes: `composite of ${base.name} with ${replaced.map((s) => `${s} from ${origins[s].pack}`).join(', ')}`,
        },
        stages,
      }
    : { ...base, stages };
  return {
    manifest,
    source: baseSource,
    onnx,
    externalData,
    ...(Object.keys(chains).length ? { parts: chains } : {}),
    origins,
    wasmBuild,
    unconditionalOrigin: unconditionalOrigin(uFrom.pack, u),
    unconditional: { clipImg: npyFloat32(get(uFrom.source, u.clipImg), u.clipImg), clipText: npyFloat32(get(uFrom.source, u.clipText), u.clipText), clipTextPooled: npyFloat32(get(uFrom.source, u.clipTextPooled), u.clipTextPooled) },
    vocab: capVocab ? parseVocab(get(cap.source, capVocab), `${cap.source.label}/${capVocab}`) : parseVocab(get(baseSource, base.vocab), base.vocab),
    ...(composite ? { composite: { name: composite.name, base: baseSource.label, parts: replaced.map((s) => ({ stage: s, pack: origins[s].pack, source: origins[s].source })) } } : {}),
  };
}

/** What the page shows about the unconditional tensors: a stage pack's computed flag and source, or the model pack's own constants. */
export function unconditionalOrigin(pack: string, u: { clipText: string; computed?: boolean; source?: string }): UnconditionalOrigin {
  if (u.computed === undefined) return { pack, computed: null, source: `the constants of model pack ${pack}` };
  return { pack, computed: u.computed, source: u.source ?? '' };
}

/** The bytes of the listed files as the manifest gives them. */
function planBytes(files: PackFile[], paths: string[]): number {
  return paths.reduce((a, p) => a + (files.find((f) => f.path === p)?.bytes ?? 0), 0);
}

/** Reads the planned files one after the other (each once), with byte progress per file and in total. */
async function readPlan(plan: Planned[], opts: OpenPackOptions): Promise<Map<string, Uint8Array>> {
  const seen = new Set<string>();
  const unique = plan.filter((p) => {
    const k = `${p.source.label}\n${p.path}`;
    return !seen.has(k) && seen.add(k);
  });
  const sizes = unique.map((p) => p.files.find((f) => f.path === p.path)?.bytes ?? 0);
  const totalBytes = sizes.reduce((a, b) => a + b, 0);
  const out = new Map<string, Uint8Array>();
  let done = 0;
  for (let i = 0; i < unique.length; i++) {
    const p = unique[i];
    const onProgress = opts.onProgress;
    const got = await readPackFiles(p.source, p.files, [p.path], {
      signal: opts.signal,
      verify: opts.verify,
      onProgress: onProgress && ((q) => onProgress({ loadedBytes: done + q.loadedBytes, totalBytes, file: p.path, fileLoadedBytes: q.loadedBytes, fileBytes: sizes[i], fileIndex: i, fileCount: unique.length, pack: p.pack })),
    });
    out.set(`${p.source.label}\n${p.path}`, got.get(p.path) as Uint8Array);
    done += sizes[i];
    onProgress?.({ loadedBytes: done, totalBytes, file: p.path, fileLoadedBytes: sizes[i], fileBytes: sizes[i], fileIndex: i, fileCount: unique.length, pack: p.pack });
  }
  return out;
}

// The front door of MIRAGE Explorer as a library (package.json "exports": "."): open a bundle,
// decode a subject's condition the MIRAGE way, score the decoded features, reconstruct a stimulus
// with a model pack, and evaluate reconstructions — from Node scripts, notebooks-in-JS or a page.
// Runs anywhere the core runs (no Node built-ins here); Node-only adapters (bundle folders on disk,
// atomic output, Ctrl-C) are the "./node" entry, src/node/index.ts. Documented in docs/api.md.
import { BundleError } from './core/base/errors.ts';
import type { ByteProgress } from './core/base/progress.ts';
import { HttpShardSource } from './core/bundle/httpSource.ts';
import { Bundle, type OpenOptions } from './core/bundle/loader.ts';
import type { Condition, FeatureSet, HeadName } from './core/bundle/manifest.ts';
import type { ShardSource } from './core/bundle/source.ts';
import { createBackend, type BackendName } from './core/decode/backend.ts';
import { decodeCondition, type DecodedCondition } from './core/decode/decodeCondition.ts';
import { HeadCache } from './core/decode/headCache.ts';
import { evaluateBundle, type BundleEvalOptions, type BundleEvalResult } from './core/evaluate/bundleEval.ts';
import { twoWayIdentification, type IdentificationVariant } from './core/evaluate/identification.ts';
import { openModelPack } from './core/generate/packOpen.ts';
import { reconstruct as runPipeline, type DecodedHeads, type GenerateProgress, type GenerateSettings, type Reconstruction } from './core/generate/pipeline.ts';
import { PackSessions } from './core/generate/sessions.ts';
import { matrix } from './core/tensor/matrix.ts';

export { AbortError, BundleError } from './core/base/errors.ts';
export { FormatError } from './core/formats/errors.ts';
export { Bundle, type OpenOptions } from './core/bundle/loader.ts';
export { HttpShardSource } from './core/bundle/httpSource.ts';
export { MemoryStore } from './core/bundle/memoryStore.ts';
export type { ShardSource, ReadOptions } from './core/bundle/source.ts';
export type { Condition, HeadName, Manifest, Stimulus, Subject, Trial } from './core/bundle/manifest.ts';
export type { BackendName } from './core/decode/backend.ts';
export type { ConditionHead, DecodedCondition, DecodedRow, HeadNormalization } from './core/decode/decodeCondition.ts';
export type { BundleEvalOptions, BundleEvalResult } from './core/evaluate/bundleEval.ts';
export type { ResultRow } from './core/evaluate/tables.ts';
export type { GenerateProgress, GenerateSettings, Reconstruction } from './core/generate/pipeline.ts';
export { MIRAGE_DEFAULTS } from './core/generate/pipeline.ts';
export type { RgbImage } from './core/base/image.ts';

/**
 * Opens a bundle and checks it (manifest schema, shard sizes; each shard's SHA-256 on first use
 * unless `verify: 'full'`). `source` is a URL of the bundle folder (http(s), or relative to the page)
 * or any ShardSource — in Node a folder on disk: `new FsShardSource(dir)` from the "./node" entry.
 */
export async function openBundle(source: string | URL | ShardSource, opts: OpenOptions = {}): Promise<Bundle> {
  const src = typeof source === 'string' || source instanceof URL ? new HttpShardSource(String(source)) : source;
  return Bundle.open(src, { verify: 'sizes', ...opts });
}

export interface DecodeOptions {
  subject: number;
  condition: Condition;
  /** Default: every head of the subject. */
  heads?: readonly HeadName[];
  /** Default true (MIRAGE): one row per stimulus, its repeats averaged. false: every single trial. */
  average?: boolean;
  /** Backends to try in order (default wasm, cpu, js); the first that starts is used. */
  backends?: BackendName[];
  /** Where tfjs-backend-wasm finds its .wasm files (in Node: nodeWasmPaths() from "./node"). */
  wasmPaths?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, label: string) => void;
}

/**
 * Decodes one condition of one subject the MIRAGE way (src/core/decode/decodeCondition.ts): repeats
 * averaged per stimulus, predictions normalised over the condition's batch and rescaled to the
 * training targets; a head without training-target statistics stays raw and says why in its
 * `normalization`. Starts a decoder backend for the call and releases it after.
 */
export async function decode(bundle: Bundle, opts: DecodeOptions): Promise<DecodedCondition & { backend: BackendName }> {
  const backend = await createBackend(opts.backends ?? ['wasm', 'cpu', 'js'], { wasmPaths: opts.wasmPaths });
  try {
    const res = await decodeCondition(bundle, new HeadCache(backend), {
      subject: opts.subject,
      condition: opts.condition,
      heads: opts.heads,
      average: opts.average,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    return { ...res, backend: backend.name };
  } finally {
    backend.dispose();
  }
}

export interface Identification {
  head: HeadName;
  /** The bundle's feature set the rows were compared with (e.g. "stimuli"). */
  featureSet: string;
  /** Mean two-way identification over the rows, in [0, 1]; chance 0.5. */
  accuracy: number;
  /** Per decoded row (stimulus), in the order of `decoded.rows`. */
  perRow: Array<{ stimulus: number; accuracy: number }>;
  variant: IdentificationVariant;
}

/**
 * Two-way identification of decoded features: for each decoded row, the fraction of other stimuli
 * whose true features (the bundle's "stimuli" feature set for the head) correlate less with the
 * row than the row's own stimulus does (Pearson r; chance 50%). 'mindeye' (default) is the common
 * form, 'mirage' subtracts one as MIRAGE's published script does (docs/metrics.md).
 */
export async function identification(
  bundle: Bundle,
  decoded: DecodedCondition,
  opts: { head?: HeadName; featureSet?: string; variant?: IdentificationVariant } = {},
): Promise<Identification> {
  const head = opts.head ?? 'image';
  const setName = opts.featureSet ?? 'stimuli';
  const set: FeatureSet | undefined = bundle.manifest.features.find((f) => f.head === head && f.name === setName);
  if (!set) {
    throw new BundleError(`${bundle.source.label}/manifest.json`, `no "${setName}" feature set for the ${head} head`, {
      field: 'features',
      expected: bundle.manifest.features.map((f) => `${f.name}/${f.head}`).join(', ') || 'a feature set of true features per stimulus',
    });
  }
  const h = decoded.heads.find((x) => x.name === head);
  if (!h) throw new BundleError('decode result', `the ${head} head was not decoded`, { expected: decoded.heads.map((x) => x.name).join(', ') });
  const q = h.outputShape.reduce((a, b) => a * b, 1);
  const truth = (await bundle.tensor(set.values)) as Float32Array;
  const rows = decoded.rows.map((r, i) => ({ stimulus: r.stimulus, row: i, gtRow: set.ids.indexOf(r.stimulus) })).filter((r) => r.gtRow >= 0);
  if (rows.length < 2) {
    throw new BundleError(`${bundle.source.label}/manifest.json`, `only ${rows.length} decoded stimuli have true features in "${setName}"`, { field: 'features', expected: 'at least 2' });
  }
  const gt = matrix(rows.length, q);
  const rec = matrix(rows.length, q);
  rows.forEach((r, k) => {
    gt.data.set(Float32Array.from(truth.subarray(r.gtRow * q, (r.gtRow + 1) * q)), k * q);
    rec.data.set(h.values.subarray(r.row * q, (r.row + 1) * q), k * q);
  });
  const variant = opts.variant ?? 'mindeye';
  const per = twoWayIdentification(gt, rec, variant);
  return {
    head,
    featureSet: setName,
    accuracy: per.reduce((a, b) => a + b, 0) / per.length,
    perRow: rows.map((r, k) => ({ stimulus: r.stimulus, accuracy: per[k] })),
    variant,
  };
}

export interface ReconstructOptions {
  /** Settings not given take MIRAGE's defaults (MIRAGE_DEFAULTS). */
  settings?: Partial<GenerateSettings>;
  /** onnxruntime execution providers, in order (default ['wasm']; a page may put 'webgpu' first). */
  executionProviders?: string[];
  signal?: AbortSignal;
  onPackProgress?: (p: ByteProgress) => void;
  onProgress?: (p: GenerateProgress) => void;
}

/**
 * Reconstructs one stimulus from a decoded condition (its row of every head) with a model pack:
 * `models` is the pack folder's URL or a ShardSource (in Node: `new FsShardSource(dir)`). The
 * condition must have been decoded with all five heads (image, text, blurry, retrieval, prompt).
 */
export async function reconstruct(
  decoded: DecodedCondition,
  stimulus: number,
  models: string | URL | ShardSource,
  opts: ReconstructOptions = {},
): Promise<Reconstruction & { modelPack: { name: string; provenance: string } }> {
  const row = decoded.rows.findIndex((r) => r.stimulus === stimulus);
  if (row < 0) throw new BundleError('decode result', `no row for stimulus ${stimulus} (subject ${decoded.subject}, ${decoded.condition})`, { expected: decoded.rows.map((r) => r.stimulus).join(', ') });
  const get = (name: keyof DecodedHeads): Float32Array => {
    const h = decoded.heads.find((x) => x.name === name);
    if (!h) {
      throw new BundleError('decode result', `subject ${decoded.subject} has no decoded "${name}" head`, {
        expected: 'the five heads a reconstruction needs (image, text, blurry, retrieval, prompt), decoded by decode() with its default heads',
      });
    }
    const q = h.outputShape.reduce((a, b) => a * b, 1);
    return h.values.slice(row * q, (row + 1) * q);
  };
  const heads: DecodedHeads = { image: get('image'), text: get('text'), blurry: get('blurry'), retrieval: get('retrieval'), prompt: get('prompt') };
  const source = typeof models === 'string' || models instanceof URL ? new HttpShardSource(String(models)) : models;
  // openModelPack: plain and composite packs (parts resolved next to the source), external-data weights.
  const pack = await openModelPack(source, { signal: opts.signal, onProgress: opts.onPackProgress });
  const sessions = new PackSessions(pack, { executionProviders: opts.executionProviders });
  try {
    const r = await runPipeline(sessions, heads, opts.settings ?? {}, { signal: opts.signal, onProgress: opts.onProgress });
    // Which pack made it, and whether it is a real model or a simulation's stand-in.
    return { ...r, modelPack: { name: pack.manifest.name, provenance: pack.manifest.provenance.kind } };
  } finally {
    await sessions.dispose();
  }
}

/**
 * Scores the bundle's reconstructions against its stimulus images: pixel metrics, the CLIP column
 * and brain correlation where the bundle carries the models for them; one row per reconstruction,
 * with notes saying what each column used (src/core/evaluate/bundleEval.ts).
 */
export async function evaluate(bundle: Bundle, opts: BundleEvalOptions = {}): Promise<BundleEvalResult> {
  return evaluateBundle(bundle, opts);
}

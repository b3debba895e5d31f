// Evaluating the reconstructions of an open bundle (what the dashboard's worker runs): the bundle's
// `reconstructions` sets plus any made in this session, against the bundle's stimulus images —
// PixCorr, SSIM, identification with the demo metric pack (when the bundle folder has the demo
// encoders in models/) and brain correlation with an encoding-model pack found next to the bundle
// (`encoding/subjNN/encodingpack.json`, GNet's role) or else the simulation's ground-truth encoding
// model (when the bundle carries one). Pure: the caller hands in the Bundle, progress and the AbortSignal.
import type { Bundle } from '../bundle/loader.ts';
import { BundleError } from '../base/errors.ts';
import type { StimulusSet } from '../bundle/manifest.ts';
import { createSession, runFloat, type OrtSession } from '../onnx/runtime.ts';
import { brainScorerFor, encodingPackScorer, type BrainScorer } from './brainModel.ts';
import { ENCODING_PACK_MANIFEST, loadEncodingPack, type LoadedEncodingPack } from './encodingPack.ts';
import { PrefixSource } from '../bundle/prefixSource.ts';
import type { ShardSource } from '../bundle/source.ts';
import { DEMO_METRIC_LABEL, demoMetricPack, hasDemoModels } from './demoMetricPack.ts';
import type { FeatureNetworkRun, ReconstructionItem } from './runEval.ts';
import { bundleReconstructionItems, evaluateReconstructions } from './runEval.ts';
import { fromUint8, toRgb, toUint8, type FloatImage } from './image.ts';
import { rowKey, type EvalCondition, type ResultRow } from './tables.ts';
import type { StepProgress } from '../base/progress.ts';

/** A reconstruction made in this page session (e.g. by the reconstruct panel). */
export interface SessionReconstruction {
  method: string;
  subject: number;
  condition: EvalCondition;
  stimulus: number;
  repetition: number;
  /** uint8 RGB, HWC */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface BundleEvalOptions {
  /** evaluation size (shorter edge); default the bundle's image size (MIRAGE uses 512: slower) */
  size?: number;
  antialias?: boolean;
  session?: SessionReconstruction[];
  /** ONNX execution providers for the feature networks (default wasm) */
  executionProviders?: string[];
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

export interface BundleEvalResult {
  rows: ResultRow[];
  /** "this bundle" or "this bundle (SIMULATED)" */
  label: string;
  size: number;
  /** one line each: what the feature and brain columns are, what is missing */
  notes: string[];
}

export function bundleSourceLabel(kind: 'simulated' | 'real'): string {
  return kind === 'simulated' ? 'this bundle (SIMULATED)' : 'this bundle';
}

/** True when the bundle has something to evaluate (or session reconstructions are given). */
export function hasReconstructions(bundle: Pick<Bundle, 'manifest'>, session: SessionReconstruction[] = []): boolean {
  return (bundle.manifest.reconstructions?.length ?? 0) > 0 || session.length > 0;
}

/** Every reconstruction of the bundle and the session whose stimulus has a ground-truth image. */
export function reconstructionItems(bundle: Bundle, session: SessionReconstruction[] = [], signal?: AbortSignal): ReconstructionItem[] {
  const m = bundle.manifest;
  const stimById = new Map(m.stimuli.map((s) => [s.id, s]));
  const evaluable = (stimulus: number) => !!stimById.get(stimulus)?.image;
  const items: ReconstructionItem[] = bundleReconstructionItems(m, (ref) => bundle.tensor(ref, { signal }) as Promise<Uint8Array>, (_s, stim) => evaluable(stim));
  for (const r of session) {
    if (!evaluable(r.stimulus)) continue;
    items.push({ ...r, label: `${r.method} s${r.subject} ${r.condition} #${r.stimulus}`, load: async () => fromUint8(r.rgb, r.width, r.height, 3) });
  }
  return items;
}

/** A stimulus's ground-truth image as a FloatImage. */
export async function groundTruthImage(bundle: Bundle, stimulus: number, signal?: AbortSignal): Promise<FloatImage> {
  const s = bundle.manifest.stimuli.find((x) => x.id === stimulus);
  if (!s?.image) throw new BundleError(`${bundle.source.label}/manifest.json`, `stimulus ${stimulus} has no ground-truth image`, { field: `stimuli[${stimulus}].image` });
  const [h, w, c] = s.image.shape;
  return fromUint8((await bundle.tensor(s.image, { signal })) as Uint8Array, w, h, c);
}

/** The reconstruction of one result row and its ground truth, as uint8 RGB (for galleries). */
export async function rowImages(
  bundle: Bundle,
  row: Pick<ResultRow, 'method' | 'subject' | 'condition' | 'stimulus' | 'repetition'>,
  session: SessionReconstruction[] = [],
): Promise<{ recon: RgbBytes; gt: RgbBytes } | null> {
  const it = reconstructionItems(bundle, session).find((x) => rowKey(x) === rowKey(row));
  if (!it) return null;
  const bytes = (im: FloatImage): RgbBytes => ({ rgb: toUint8(toRgb(im)), width: im.width, height: im.height });
  return { recon: bytes(await it.load()), gt: bytes(await groundTruthImage(bundle, row.stimulus)) };
}

export interface RgbBytes {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export async function evaluateBundle(bundle: Bundle, opts: BundleEvalOptions = {}): Promise<BundleEvalResult> {
  const m = bundle.manifest;
  const size = opts.size ?? m.imageSize;
  const items = reconstructionItems(bundle, opts.session, opts.signal);
  if (!items.length) {
    throw new BundleError(`${bundle.source.label}/manifest.json`, 'nothing to evaluate: no reconstructions of stimuli with a ground-truth image', {
      field: 'reconstructions',
      expected: 'reconstruction sets (`mirage import recons`) or a reconstruction made in the Reconstruction tab',
    });
  }
  // Every onnxruntime session this run opens is released when it ends (done, failed or cancelled): a
  // worker evaluates many times (each store update, React's development double start), and sessions
  // left open kept their weights (the encoding packs' are tens of MB each) in the wasm heap.
  const sessions: OrtSession[] = [];
  const open = async (bytes: Uint8Array) => {
    const session = await createSession(bytes, { executionProviders: opts.executionProviders });
    sessions.push(session);
    return session;
  };
  try {
    return await evaluateWith(bundle, items, size, open, opts);
  } finally {
    await Promise.all(sessions.map((x) => x.release().catch(() => undefined)));
  }
}

async function evaluateWith(
  bundle: Bundle,
  items: ReturnType<typeof reconstructionItems>,
  size: number,
  open: (bytes: Uint8Array) => Promise<OrtSession>,
  opts: BundleEvalOptions,
): Promise<BundleEvalResult> {
  const m = bundle.manifest;
  const stimById = new Map(m.stimuli.map((s) => [s.id, s]));
  const notes: string[] = [];
  let networks: Partial<Record<'clip', FeatureNetworkRun>> | undefined;
  let encoder: ((b: Float32Array, d: number[]) => Promise<{ data: Float32Array; dims: readonly number[] }>) | null = null;
  let encoderSize = m.imageSize;
  if (await hasDemoModels(bundle.source, opts.signal)) {
    const pack = await demoMetricPack(bundle.source, { signal: opts.signal, command: 'evaluate worker (demo encoders next to the bundle)' });
    const spec = pack.manifest.networks.clip!;
    const session = await open(pack.onnx.clip!);
    encoder = (data, dims) => runFloat(session, { [spec.input.name]: { data, dims } }, spec.output.name);
    encoderSize = spec.preprocess.resize;
    networks = { clip: { spec, run: encoder } };
    notes.push(`CLIP column: ${DEMO_METRIC_LABEL}; two-way identification (chance 50%) within each method x subject x condition x repetition.`);
  } else {
    notes.push('feature metrics: no metric pack for this bundle (pixel metrics only).');
  }
  let { scorer, reason } = brainScorerFor(bundle, encoder, encoderSize);
  const packs = await bundleEncodingPacks(bundle, opts.signal);
  if (packs.length) {
    scorer = await encodingPackScorer(bundle, packs, async (p) => {
      const session = await open(p.onnx);
      return (data, dims) => runFloat(session, { [p.manifest.model.input.name]: { data, dims } }, p.manifest.model.output.name);
    });
    const standIn = packs.some((p) => p.manifest.model.kind !== 'real');
    reason = `brain correlation: ${scorer.description}${standIn ? ' — not the real encoding model; not comparable to published numbers' : ''}.`;
  }
  const brain: BrainScorer | undefined = scorer ?? undefined;
  notes.push(reason);
  const label = bundleSourceLabel(m.provenance.kind);
  const rows = await evaluateReconstructions(items, {
    size,
    antialias: opts.antialias ?? true,
    groundTruth: (id) => groundTruthImage(bundle, id, opts.signal),
    stimulusSet: (id) => stimById.get(id)!.set as StimulusSet,
    networks,
    brain,
    signal: opts.signal,
    onProgress: opts.onProgress,
  });
  notes.unshift(`${label}: ${rows.length} reconstructions scored at ${size} px (bilinear${opts.antialias === false ? '' : ', antialiased'}; MIRAGE's tables use 512).`);
  return { rows, label, size, notes };
}

/** Where a bundle folder may carry an encoding-model pack per subject. */
export function encodingPackPrefix(subject: number): string {
  return `encoding/subj${String(subject).padStart(2, '0')}/`;
}

/**
 * Encoding-model packs shipped next to the bundle (`encoding/subjNN/encodingpack.json`, one per
 * decoded subject). A missing manifest (or an HTML page served in its place) means no pack; a
 * present but bad pack is an error.
 */
export async function bundleEncodingPacks(bundle: Pick<Bundle, 'manifest' | 'source'>, signal?: AbortSignal): Promise<LoadedEncodingPack[]> {
  const packs: LoadedEncodingPack[] = [];
  for (const s of bundle.manifest.subjects.filter((x) => x.role === 'decoded')) {
    const src: ShardSource = new PrefixSource(bundle.source, encodingPackPrefix(s.id));
    let head: Uint8Array;
    try {
      head = await src.read(ENCODING_PACK_MANIFEST, { signal });
    } catch {
      continue;
    }
    // a web server's SPA fallback answers a missing file with its HTML page: that is "no pack" too
    if (new TextDecoder().decode(head.subarray(0, 64)).trimStart().startsWith('<')) continue;
    packs.push(await loadEncodingPack(src, { signal }));
  }
  return packs;
}

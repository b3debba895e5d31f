// The decode worker: a thin comlink face over src/core/bundle (open, read tensors and betas) and
// src/core/decode (heads on a tfjs backend). The page never touches shards or weights itself.
import { expose, transfer } from 'comlink';
import { Bundle } from '../src/core/bundle/loader.ts';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import type { HeadName, Manifest, TensorRef } from '../src/core/bundle/manifest.ts';
import { createBackend, type DecoderBackend } from '../src/core/decode/backend.ts';
import { applyOutputNorm, averageRows, groupRepeats, headOutputSize, loadHead, normalizePredictions, type LoadedHead } from '../src/core/decode/predict.ts';
import { averageTrialBetas, stackTrialBetas } from '../src/core/decode/trials.ts';
import { rankByCosine } from '../src/core/evaluate/identify.ts';
import type {
  BackendName,
  BundleSourceSpec,
  DecodeRequest,
  DecodeResponse,
  DecodeNormalization,
  DecodeWorkerApi,
  HeadNormalization,
  HeadPrediction,
  IdentifyRequest,
  IdentifyResponse,
  ProgressReport,
} from '../src/core/decode/protocol.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();

/** Where the wasm backends find their .wasm files (served by vite.config.ts under /wasm/). */
const WASM_BASE = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;

let bundle: Bundle | null = null;
let backend: DecoderBackend | null = null;
let backendPromise: Promise<DecoderBackend> | null = null;
/** Heads uploaded to the backend, as "subject/head". One subject's heads at a time. */
const uploaded = new Set<string>();
/** Per uploaded head ("subject/head"): its spec and training-target mean/std (not A, B: the backend has them). */
const headTargets = new Map<string, Pick<LoadedHead, 'spec' | 'targetMean' | 'targetStd'>>();
const featureCache = new Map<string, Float32Array>();

function requireBundle(): Bundle {
  if (!bundle) throw new Error('no bundle is open (call open() first)');
  return bundle;
}

async function ensureBackend(order: BackendName[] = ['webgpu', 'wasm', 'cpu', 'js']): Promise<DecoderBackend> {
  if (backend) return backend;
  backendPromise ??= createBackend(order, { wasmPaths: WASM_BASE });
  try {
    backend = await backendPromise;
  } finally {
    backendPromise = null;
  }
  return backend;
}

const api: DecodeWorkerApi = {
  async open(source: BundleSourceSpec, onProgress?: (p: ProgressReport) => void): Promise<Manifest> {
    // The backend outlives bundles (it is expensive to start); heads of the old bundle are
    // replaced on first use because `uploaded` forgets them.
    bundle = null;
    uploaded.clear();
    headTargets.clear();
    featureCache.clear();
    const shardSource =
      source.kind === 'url'
        ? new HttpShardSource(new URL(source.url, self.location.href).href, { cache: source.cache ?? true })
        : new FileListShardSource(source.files);
    bundle = await Bundle.open(shardSource, {
      verify: 'sizes',
      onProgress: onProgress ? (p) => void onProgress({ ...p }) : undefined,
    });
    return bundle.manifest;
  },

  async initBackend(order) {
    return (await ensureBackend(order)).name;
  },

  async decode(req: DecodeRequest): Promise<DecodeResponse> {
    const b = requireBundle();
    const be = await ensureBackend();
    const subject = b.subject(req.subject);
    const t0 = performance.now();
    let betas: Float32Array;
    let rows: number;
    // Normalisation: MIRAGE's batch = every stimulus of this subject in this condition, repeats averaged.
    const groups = req.normalize
      ? groupRepeats(b.manifest.trials, req.subject).filter((g) => g.condition === req.normalize!.condition)
      : null;
    let selectedRow = 0;
    if (groups) {
      selectedRow = groups.findIndex((g) => g.stimulus === req.normalize!.stimulus);
      if (selectedRow < 0) {
        throw new Error(`subject ${req.subject} has no ${req.normalize!.condition} trials of stimulus ${req.normalize!.stimulus} in manifest.json`);
      }
      const all = groups.flatMap((g) => g.trials);
      const stacked = await stackTrialBetas(b, all);
      let k = 0;
      const rowsOf = groups.map((g) => g.trials.map(() => k++));
      betas = averageRows(stacked, subject.voxelCount, rowsOf);
      rows = groups.length;
    } else {
      betas = req.average ? await averageTrialBetas(b, req.trials) : await stackTrialBetas(b, req.trials);
      rows = req.average ? 1 : req.trials.length;
    }
    const t1 = performance.now();
    for (const name of req.heads) {
      const key = `${req.subject}/${name}`;
      if (uploaded.has(key)) continue;
      const head = subject.heads.find((h) => h.name === name);
      if (!head) throw new Error(`subject ${req.subject} has no "${name}" head in manifest.json`);
      // A backend holds one head per name: a different subject's head replaces it.
      for (const k of [...uploaded]) if (k.endsWith(`/${name}`)) uploaded.delete(k);
      for (const k of [...headTargets.keys()]) if (k.endsWith(`/${name}`)) headTargets.delete(k);
      const loaded = await loadHead(b, head);
      await be.setHead(loaded);
      uploaded.add(key);
      headTargets.set(key, { spec: loaded.spec, targetMean: loaded.targetMean, targetStd: loaded.targetStd });
    }
    const t2 = performance.now();
    const predictions: Partial<Record<HeadName, HeadPrediction>> = {};
    const normHeads: Partial<Record<HeadName, HeadNormalization>> = {};
    const batchLabel = groups
      ? `${groups.length} stimuli × ${req.normalize!.condition}, subject ${req.subject}, repeats averaged (${[...new Set(groups.map((g) => g.trials.length))].join('/')} per stimulus)`
      : '';
    const buffers: ArrayBuffer[] = [];
    for (const name of req.heads) {
      const head = subject.heads.find((h) => h.name === name)!;
      let values = await be.predict(name, betas, rows);
      if (groups) {
        const q = headOutputSize(head);
        const t = headTargets.get(`${req.subject}/${name}`)!;
        if (t.targetMean && t.targetStd) {
          const norm = normalizePredictions(values, rows, q, t.targetMean, t.targetStd, batchLabel);
          applyOutputNorm(t as LoadedHead, norm.values); // as decodeSubject: restore per-token unit norms
          normHeads[name] = { batch: norm.batch };
          values = norm.values;
        } else {
          normHeads[name] = { missing: `head "${name}" of subject ${req.subject} has no targetMean/targetStd in manifest.json: shown raw` };
        }
        values = values.slice(selectedRow * q, (selectedRow + 1) * q);
      }
      predictions[name] = { values, rows: groups ? 1 : rows, outputShape: [...head.outputShape] };
      buffers.push(values.buffer as ArrayBuffer);
    }
    const t3 = performance.now();
    const response: DecodeResponse = {
      backend: be.name,
      trials: [...req.trials],
      averaged: groups ? true : req.average,
      predictions,
      timing: { betasMs: t1 - t0, headsMs: t2 - t1, predictMs: t3 - t2 },
    };
    if (groups) {
      const normalization: DecodeNormalization = {
        subject: req.subject,
        condition: req.normalize!.condition,
        stimulus: req.normalize!.stimulus,
        stimuli: groups.map((g) => g.stimulus),
        repeats: groups.map((g) => g.trials.length),
        description: `normalised over ${batchLabel}; target mean/std from training`,
        heads: normHeads,
      };
      response.normalization = normalization;
      response.trials = groups[selectedRow].trials;
    }
    return transfer(response, buffers);
  },

  async identify(req: IdentifyRequest): Promise<IdentifyResponse> {
    const b = requireBundle();
    const set = b.manifest.features.find((f) => f.name === req.set && f.head === req.head);
    if (!set) throw new Error(`manifest.json: features has no set "${req.set}" for head "${req.head}"`);
    const key = `${set.name}/${set.head}`;
    let values = featureCache.get(key);
    if (!values) {
      values = (await b.tensor(set.values)) as Float32Array;
      featureCache.set(key, values);
    }
    const ranked = rankByCosine(req.query, values, set.ids);
    return { ranked, set: set.name, head: set.head };
  },

  async tensor(ref: TensorRef) {
    // Copy: the loader may keep the array it returned in its cache; transferring would detach it.
    const t = (await requireBundle().tensor(ref)).slice();
    return transfer(t, [t.buffer as ArrayBuffer]);
  },

  async betas(trials: number[]) {
    const v = (await averageTrialBetas(requireBundle(), trials)).slice();
    return transfer(v, [v.buffer as ArrayBuffer]);
  },
};

expose(api);

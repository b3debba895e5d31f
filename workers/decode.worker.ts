// The decode worker: a thin comlink face over src/core/bundle (open, read tensors and betas) and
// src/core/decode (heads on a tfjs backend). The page never touches shards or weights itself.
import { expose, transfer } from 'comlink';
import { Bundle } from '../src/core/bundle/loader.ts';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import type { HeadName, Manifest, TensorRef } from '../src/core/bundle/manifest.ts';
import { createBackend, type DecoderBackend } from '../src/core/decode/backend.ts';
import { loadHead } from '../src/core/decode/predict.ts';
import { averageTrialBetas, stackTrialBetas } from '../src/core/decode/trials.ts';
import { rankByCosine } from '../src/core/evaluate/identify.ts';
import type {
  BackendName,
  BundleSourceSpec,
  DecodeRequest,
  DecodeResponse,
  DecodeWorkerApi,
  HeadPrediction,
  IdentifyRequest,
  IdentifyResponse,
  ProgressReport,
} from '../src/app/workerApi.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();

/** Where the wasm backends find their .wasm files (served by vite.config.ts under /wasm/). */
const WASM_BASE = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;

let bundle: Bundle | null = null;
let backend: DecoderBackend | null = null;
let backendPromise: Promise<DecoderBackend> | null = null;
/** Heads uploaded to the backend, as "subject/head". One subject's heads at a time. */
const uploaded = new Set<string>();
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
    const betas = req.average
      ? await averageTrialBetas(b, req.trials)
      : await stackTrialBetas(b, req.trials);
    const rows = req.average ? 1 : req.trials.length;
    const t1 = performance.now();
    for (const name of req.heads) {
      const key = `${req.subject}/${name}`;
      if (uploaded.has(key)) continue;
      const head = subject.heads.find((h) => h.name === name);
      if (!head) throw new Error(`subject ${req.subject} has no "${name}" head in manifest.json`);
      // A backend holds one head per name: a different subject's head replaces it.
      for (const k of [...uploaded]) if (k.endsWith(`/${name}`)) uploaded.delete(k);
      await be.setHead(await loadHead(b, head));
      uploaded.add(key);
    }
    const t2 = performance.now();
    const predictions: Partial<Record<HeadName, HeadPrediction>> = {};
    const buffers: ArrayBuffer[] = [];
    for (const name of req.heads) {
      const head = subject.heads.find((h) => h.name === name)!;
      const values = await be.predict(name, betas, rows);
      predictions[name] = { values, rows, outputShape: [...head.outputShape] };
      buffers.push(values.buffer as ArrayBuffer);
    }
    const t3 = performance.now();
    const response: DecodeResponse = {
      backend: be.name,
      trials: [...req.trials],
      averaged: req.average,
      predictions,
      timing: { betasMs: t1 - t0, headsMs: t2 - t1, predictMs: t3 - t2 },
    };
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

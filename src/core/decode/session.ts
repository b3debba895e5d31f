// What the decode worker holds: one open bundle, one decoder backend (started once, it outlives
// bundles) with its heads cached, and the answers to the page's DecodeRequests. The worker is only
// a comlink face over this class, so the same code runs (and is tested) in Node.
import { Bundle } from '../bundle/loader.ts';
import type { FeatureSet, HeadName, Manifest, TensorRef } from '../bundle/manifest.ts';
import type { ByteProgress } from '../base/progress.ts';
import type { ShardSource } from '../bundle/source.ts';
import { createBackend, type BackendOptions, type DecoderBackend } from './backend.ts';
import { decodeCondition, subjectHeads } from './decodeCondition.ts';
import { HeadCache } from './headCache.ts';
import { headOutputSize } from './predict.ts';
import type { BackendName, DecodeRequest, DecodeResponse, HeadPrediction } from './protocol.ts';
import { averageTrialBetas, stackTrialBetas } from './trials.ts';

const DEFAULT_ORDER: BackendName[] = ['webgpu', 'wasm', 'cpu', 'js'];

export class DecodeSession {
  private bundleNow: Bundle | null = null;
  private cache: HeadCache | null = null;
  private starting: Promise<HeadCache> | null = null;
  private readonly features = new Map<string, Float32Array>();

  constructor(private readonly backendOptions: BackendOptions = {}) {}

  get bundle(): Bundle {
    if (!this.bundleNow) throw new Error('no bundle is open (call open() first)');
    return this.bundleNow;
  }

  /** Opens a bundle (sizes checked now, each shard hashed on first use); forgets the old one's heads. */
  async open(source: ShardSource, onProgress?: (p: ByteProgress) => void): Promise<Manifest> {
    this.bundleNow = null;
    this.cache?.clear();
    this.features.clear();
    this.bundleNow = await Bundle.open(source, { verify: 'sizes', onProgress });
    return this.bundleNow.manifest;
  }

  /** The first backend of `order` that starts (once; later calls return the same one). */
  async initBackend(order: BackendName[] = DEFAULT_ORDER): Promise<BackendName> {
    return (await this.heads(order)).backend.name;
  }

  private async heads(order: BackendName[] = DEFAULT_ORDER): Promise<HeadCache> {
    if (this.cache) return this.cache;
    this.starting ??= createBackend(order, this.backendOptions).then((b: DecoderBackend) => new HeadCache(b));
    try {
      this.cache = await this.starting;
    } finally {
      this.starting = null;
    }
    return this.cache;
  }

  /**
   * Raw predictions of the requested trials (stacked, or averaged into one row); with `normalize`,
   * decodeCondition's MIRAGE decode of the whole condition and only the requested stimulus's row.
   */
  async decode(req: DecodeRequest): Promise<DecodeResponse> {
    const bundle = this.bundle;
    const cache = await this.heads();
    if (req.normalize) {
      const { stimulus, condition } = req.normalize;
      const dec = await decodeCondition(bundle, cache, { subject: req.subject, condition, heads: req.heads });
      const row = dec.rows.findIndex((r) => r.stimulus === stimulus);
      if (row < 0) throw new Error(`subject ${req.subject} has no ${condition} trials of stimulus ${stimulus} in manifest.json`);
      const predictions: Partial<Record<HeadName, HeadPrediction>> = {};
      for (const h of dec.heads) {
        const q = h.values.length / dec.rows.length;
        predictions[h.name] = { values: h.values.slice(row * q, (row + 1) * q), rows: 1, outputShape: h.outputShape };
      }
      return {
        backend: cache.backend.name,
        trials: dec.rows[row].trials,
        averaged: true,
        predictions,
        timing: dec.timing,
        normalization: {
          subject: dec.subject,
          condition,
          stimulus,
          stimuli: dec.rows.map((r) => r.stimulus),
          repeats: dec.rows.map((r) => r.trials.length),
          description: `normalised over ${dec.batch}; target mean/std from training`,
          heads: Object.fromEntries(dec.heads.map((h) => [h.name, h.normalization])),
        },
      };
    }
    const t0 = performance.now();
    const betas = req.average ? await averageTrialBetas(bundle, req.trials) : await stackTrialBetas(bundle, req.trials);
    const rows = req.average ? 1 : req.trials.length;
    const t1 = performance.now();
    const specs = subjectHeads(bundle.manifest, bundle.subject(req.subject), req.heads);
    for (const spec of specs) await cache.use(bundle, req.subject, spec);
    const t2 = performance.now();
    const predictions: Partial<Record<HeadName, HeadPrediction>> = {};
    for (const spec of specs) {
      const values = await cache.backend.predict(spec.name, betas, rows);
      if (values.length !== rows * headOutputSize(spec)) throw new RangeError(`head ${spec.name}: backend returned ${values.length} values for ${rows} rows`);
      predictions[spec.name] = { values, rows, outputShape: [...spec.outputShape] };
    }
    const t3 = performance.now();
    return {
      backend: cache.backend.name,
      trials: [...req.trials],
      averaged: req.average,
      predictions,
      timing: { betasMs: t1 - t0, headsMs: t2 - t1, predictMs: t3 - t2 },
    };
  }

  /** A feature set's embeddings (cached: identification reads them on every decode). */
  async featureSet(name: string, head: HeadName): Promise<{ set: FeatureSet; values: Float32Array }> {
    const set = this.bundle.manifest.features.find((f) => f.name === name && f.head === head);
    if (!set) throw new Error(`manifest.json: features has no set "${name}" for head "${head}"`);
    const key = `${set.name}/${set.head}`;
    let values = this.features.get(key);
    if (!values) {
      values = (await this.bundle.tensor(set.values)) as Float32Array;
      this.features.set(key, values);
    }
    return { set, values };
  }

  /** One tensor of the open bundle, copied (the loader may keep the array it returned in its cache). */
  async tensor(ref: TensorRef): Promise<Float32Array | Uint8Array | Int32Array | Uint32Array | Uint16Array> {
    return (await this.bundle.tensor(ref)).slice();
  }

  /** Betas of trials, averaged when more than one is given ([voxelCount] float32). */
  async betas(trials: number[]): Promise<Float32Array> {
    return (await averageTrialBetas(this.bundle, trials)).slice();
  }

  dispose(): void {
    this.cache?.backend.dispose();
    this.cache = null;
    this.bundleNow = null;
  }
}

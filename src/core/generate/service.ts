// The reconstruction service the generate worker exposes (and the benchmark drives): holds one
// bundle, one model pack and its ONNX sessions (created once, reused), decodes a subject's stimuli
// the way MIRAGE does (repeats averaged, predictions normalised over the condition's stimuli),
// and runs the pipeline with cancellation. Framework-free: the worker is only its comlink face.
import { Bundle } from '../bundle/loader.ts';
import { AbortError, BundleError } from '../bundle/errors.ts';
import type { ReadOptions, ShardSource } from '../bundle/source.ts';
import { createBackend, type DecoderBackend } from '../decode/backend.ts';
import { decodeSubject } from '../decode/decodeSubject.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { createSession } from '../onnx/runtime.ts';
import type { RgbImage } from './enhance.ts';
import { loadModelPack, type LoadedModelPack, type PackLoadProgress } from './modelPack.ts';
import { reconstruct, type DecodedHeads, type GenerateProgress, type GenerateSettings, type Reconstruction } from './pipeline.ts';
import { PackSessions } from './sessions.ts';

/** A ShardSource seen from a sub-folder (a model pack inside a bundle folder, e.g. "modelpack/"). */
export class PrefixSource implements ShardSource {
  readonly label: string;
  constructor(private readonly inner: ShardSource, private readonly prefix: string) {
    this.label = `${inner.label.replace(/\/$/, '')}/${prefix.replace(/\/$/, '')}`;
  }
  read(path: string, opts?: ReadOptions): Promise<Uint8Array> {
    return this.inner.read(this.prefix + path, opts);
  }
}

export type ExecutionProvider = 'webgpu' | 'wasm';

export interface ServiceInfo {
  executionProvider: ExecutionProvider;
  /** Why WebGPU was not used (shown next to the wasm badge). */
  fallbackReason?: string;
  packName: string;
  packKind: string;
  imageSize: number;
  stages: Record<string, { role: string; kind: string }>;
}

export interface ReconstructRequest {
  subject: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  settings?: Partial<GenerateSettings>;
}

export interface ReconstructResult extends Reconstruction {
  request: ReconstructRequest;
  executionProvider: ExecutionProvider;
  /** Stages that run on wasm although WebGPU was chosen, with WebGPU's error. */
  stageFallbacks: Record<string, string>;
  /** What the decoded features were: batch used by MIRAGE's normalisation. */
  decoding: string;
  trueCaption: string;
}

/** Tries WebGPU with a one-node graph; the reason is kept when it fails. */
export async function probeWebgpu(): Promise<{ ok: boolean; reason?: string }> {
  if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) return { ok: false, reason: 'navigator.gpu is not available' };
  try {
    const g = new GraphBuilder('probe').input('x', 'float32', [1, 4]);
    g.op('Relu', ['x'], undefined, 'y');
    g.output('y', 'float32', [1, 4]);
    const s = await createSession(g.toBytes(), { executionProviders: ['webgpu'] });
    await s.release();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

export class GenerateService {
  private bundle: Bundle | null = null;
  private pack: LoadedModelPack | null = null;
  private sessions: PackSessions | null = null;
  private ep: ExecutionProvider = 'wasm';
  private fallbackReason?: string;
  private backend: DecoderBackend | null = null;
  private readonly decoded = new Map<string, Promise<{ heads: Map<number, DecodedHeads>; note: string }>>();
  private controller: AbortController | null = null;

  /** Opens a bundle and a model pack; creates every stage's session once (WebGPU first when asked). */
  async open(
    bundleSource: ShardSource,
    packSource: ShardSource,
    opts: { preferWebgpu?: boolean; onProgress?: (p: PackLoadProgress) => void } = {},
  ): Promise<ServiceInfo> {
    await this.sessions?.dispose();
    this.sessions = null;
    this.decoded.clear();
    this.bundle = await Bundle.open(bundleSource, { verify: 'sizes' });
    this.pack = await loadModelPack(packSource, { onProgress: opts.onProgress });
    this.fallbackReason = undefined;
    this.ep = 'wasm';
    if (opts.preferWebgpu) {
      const probe = await probeWebgpu();
      if (probe.ok) this.ep = 'webgpu';
      else this.fallbackReason = probe.reason;
    } else {
      this.fallbackReason = 'WebGPU not requested';
    }
    this.sessions = new PackSessions(this.pack, { executionProviders: [this.ep] });
    try {
      await this.sessions.warm();
    } catch (e) {
      if (this.ep !== 'webgpu') throw e;
      // A stage WebGPU cannot build: everything on wasm, and say why.
      this.fallbackReason = `a stage failed on WebGPU: ${e instanceof Error ? e.message : String(e)}`;
      this.ep = 'wasm';
      await this.sessions.dispose();
      this.sessions = new PackSessions(this.pack, { executionProviders: ['wasm'] });
      await this.sessions.warm();
    }
    this.backend ??= await createBackend(['js']);
    const m = this.pack.manifest;
    return {
      executionProvider: this.ep,
      fallbackReason: this.fallbackReason,
      packName: m.name,
      packKind: m.provenance.kind,
      imageSize: m.imageSize,
      stages: Object.fromEntries(Object.entries(m.stages).map(([k, v]) => [k, { role: v.role, kind: v.kind }])),
    };
  }

  /** Decoded heads of one stimulus: MIRAGE's averaging and normalisation over the condition's stimuli (cached). */
  async heads(subject: number, stimulus: number, condition: 'vision' | 'imagery'): Promise<{ heads: DecodedHeads; note: string }> {
    if (!this.bundle || !this.backend) throw new Error('generate service: open() first');
    const key = `${subject}|${condition}`;
    let p = this.decoded.get(key);
    if (!p) {
      const bundle = this.bundle;
      const backend = this.backend;
      p = (async () => {
        const dec = await decodeSubject(bundle, backend, { subject, average: true, normalize: true, conditions: [condition] });
        const out = new Map<number, DecodedHeads>();
        dec.rows.forEach((r, i) => {
          const get = (name: keyof DecodedHeads) => {
            const h = dec.heads.find((x) => x.name === name);
            if (!h) throw new BundleError('manifest.json', `subject ${subject} has no "${name}" head`, { field: 'subjects[].heads' });
            const q = h.outputShape.reduce((a, b) => a * b, 1);
            return h.values.slice(i * q, (i + 1) * q);
          };
          out.set(r.stimulus, { image: get('image'), text: get('text'), blurry: get('blurry'), retrieval: get('retrieval'), prompt: get('prompt') });
        });
        return { heads: out, note: `repeats averaged; MIRAGE normalisation over ${dec.rows.length} ${condition} stimulus averages of subject ${subject}` };
      })();
      this.decoded.set(key, p);
      p.catch(() => this.decoded.delete(key));
    }
    const { heads, note } = await p;
    const h = heads.get(stimulus);
    if (!h) throw new BundleError('manifest.json', `subject ${subject} has no ${condition} trials of stimulus ${stimulus}`, { field: 'trials' });
    return { heads: h, note };
  }

  /** Runs one reconstruction; a later call or cancel() stops the running one within one step. */
  async reconstruct(req: ReconstructRequest, onProgress?: (p: GenerateProgress) => void, onLowLevel?: (low: RgbImage, enhanced: RgbImage) => void): Promise<ReconstructResult> {
    if (!this.sessions || !this.bundle) throw new Error('generate service: open() first');
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const { heads, note } = await this.heads(req.subject, req.stimulus, req.condition);
      if (controller.signal.aborted) throw new AbortError();
      const r = await reconstruct(this.sessions, heads, req.settings ?? {}, { signal: controller.signal, onProgress, onLowLevel });
      const stim = this.bundle.manifest.stimuli.find((s) => s.id === req.stimulus);
      return { ...r, request: req, executionProvider: this.ep, stageFallbacks: Object.fromEntries(this.sessions.fallbacks), decoding: note, trueCaption: stim?.caption ?? '' };
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }

  cancel(): void {
    this.controller?.abort();
  }

  async dispose(): Promise<void> {
    this.cancel();
    await this.sessions?.dispose();
    this.backend?.dispose();
    this.sessions = null;
    this.backend = null;
  }
}

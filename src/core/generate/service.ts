// The reconstruction service the generate worker exposes (and the benchmark drives): holds one
// bundle, one model pack and its ONNX sessions (created once, reused), decodes a subject's stimuli
// the way MIRAGE does (repeats averaged, predictions normalised over the condition's stimuli),
// and runs the pipeline with cancellation — optionally from a perturbed state (head deltas from the
// cortex, mapped through the same normalisation). Framework-free: the worker is only its comlink face.
import { Bundle } from '../bundle/loader.ts';
import { AbortError, BundleError } from '../base/errors.ts';
import type { Head } from '../bundle/manifest.ts';
import type { ShardSource } from '../bundle/source.ts';
import { createBackend, webgpuAdapterInfo, type WebgpuAdapterInfo } from '../decode/backend.ts';
import { decodeCondition, type HeadNormalization } from '../decode/decodeCondition.ts';
import { HeadCache } from '../decode/headCache.ts';
import { applyOutputNorm } from '../decode/predict.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { createSession } from '../onnx/runtime.ts';
import type { RgbImage } from '../base/image.ts';
import type { LoadedModelPack, StageName } from './modelPack.ts';
import { openModelPack, type PackFileProgress, type PackResolver } from './packOpen.ts';
import { adapterHasShaderF16, type PrecisionSetting } from './precision.ts';
import { reconstruct, type DecodedHeads, type GenerateProgress, type GenerateSettings, type Reconstruction } from './pipeline.ts';
import { PackSessions } from './sessions.ts';


export type ExecutionProvider = 'webgpu' | 'wasm';

/**
 * Where the stages run when WebGPU is asked for. 'fastest': on a WebGPU adapter that is a CPU
 * emulation (SwiftShader, llvmpipe: `isFallbackAdapter` or its name) every stage runs on wasm,
 * which does the same arithmetic on the same cores without emulating a GPU — measured 10–100x
 * faster per stage on SwiftShader (docs/model-packs.md, "Placement"); on a real GPU, WebGPU.
 * 'webgpu': WebGPU for every stage whatever the adapter (the browser specs use it to keep
 * covering the WebGPU kernels and step graphs on SwiftShader).
 */
export type StagePlacement = 'fastest' | 'webgpu';

/** Why a CPU-emulated WebGPU adapter is not used under 'fastest' (shown next to the wasm badge). */
export function cpuEmulationReason(adapter: WebgpuAdapterInfo): string {
  const name = adapter.architecture || adapter.vendor || adapter.description || 'software adapter';
  return `the WebGPU adapter is a CPU emulation (${name}): wasm runs every stage 10-100x faster here; "WebGPU for every stage" forces it`;
}

/** The execution provider of a service asked for WebGPU: the probe's result, the adapter, the policy. */
export function chooseExecutionProvider(
  probe: { ok: boolean; reason?: string },
  adapter: WebgpuAdapterInfo | null,
  placement: StagePlacement,
): { ep: ExecutionProvider; reason?: string } {
  if (!probe.ok) return { ep: 'wasm', reason: probe.reason };
  if (placement === 'fastest' && adapter?.software) return { ep: 'wasm', reason: cpuEmulationReason(adapter) };
  return { ep: 'webgpu' };
}

/** One stage as the service loaded and placed it (the reconstruction screen lists these). */
export interface StageInfo {
  role: string;
  kind: string;
  /** The pack it came from (a composite's part, or the pack itself). */
  pack: string;
  /** float32 / float16: the build loaded, and why (precision.ts). */
  precision: string;
  precisionReason: string;
  /** Where its session runs, and why not WebGPU when it does not. */
  placement: ExecutionProvider;
  placementReason?: string;
  /** Bytes of its graph and weights. */
  bytes: number;
  /** Graphs it runs back to back (stageChain.ts; 1 for a one-graph stage). */
  parts: number;
  /** The model's variant where the pack records one (Stable Cascade: lite / full). */
  modelVariant?: string;
}

export interface ServiceInfo {
  executionProvider: ExecutionProvider;
  /** Why WebGPU was not used (shown next to the wasm badge). */
  fallbackReason?: string;
  /** The placement policy this service was opened with. */
  placement: StagePlacement;
  /** The WebGPU adapter seen (null: none, or WebGPU not asked for). */
  adapter: WebgpuAdapterInfo | null;
  packName: string;
  packKind: string;
  imageSize: number;
  stages: Record<string, StageInfo>;
  /** The precision setting the pack was opened with, and whether the adapter has shader-f16. */
  precision: PrecisionSetting;
  shaderF16: boolean;
  /** A composite pack's base and replaced stages; null for a plain model pack. */
  composite: LoadedModelPack['composite'] | null;
  /** Which pack the unconditional CLIP tensors came from and whether they were computed (null: not known). */
  unconditional: LoadedModelPack['unconditionalOrigin'] | null;
}

/** The per-stage packs, builds and placements of a reconstruction (its provenance). */
export type StageProvenance = Record<string, { pack: string; precision: string; placement: ExecutionProvider }>;

export type HeadKey = keyof DecodedHeads;
export const HEAD_KEYS: readonly HeadKey[] = ['image', 'text', 'blurry', 'retrieval', 'prompt'];

/**
 * Raw, un-normalised changes of one stimulus's head predictions, as the cortex computes them:
 * (dx_R·A_R)·B, the units of predictHead (src/core/decode/predict.ts), flattened C-order, one value
 * per output dimension of the head.
 */
export type HeadDeltas = Partial<Record<HeadKey, Float32Array>>;

export interface ReconstructRequest {
  subject: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  settings?: Partial<GenerateSettings>;
  /** Reconstruct from a perturbed state: these raw deltas are mapped through the normalisation and added (see perturbedHeads). */
  headDeltas?: HeadDeltas;
  /** What the perturbation was (e.g. "silence V1"), echoed in the reply's `perturbed`. */
  deltaLabel?: string;
}

export interface ReconstructResult extends Reconstruction {
  request: ReconstructRequest;
  executionProvider: ExecutionProvider;
  /** Which pack made it, and per stage its pack, precision and placement. */
  modelPack: { name: string; kind: string; stages: StageProvenance };
  /** Stages that run on wasm although WebGPU was chosen, with WebGPU's error. */
  stageFallbacks: Record<string, string>;
  /** What the decoded features were: batch used by MIRAGE's normalisation. */
  decoding: string;
  /** null, or the perturbation's label and how its deltas were applied. */
  perturbed: string | null;
  trueCaption: string;
}

/**
 * One condition's decoded heads per stimulus (src/core/decode/decodeCondition.ts, regrouped by
 * stimulus), with what the perturbation mapping needs: `normalized` is MIRAGE's normalisation
 * before the per-token L2 norm of 'l2-token' heads, `heads` the values the pipeline gets (after
 * it), `scale` the slope of the per-dimension affine map the normalisation applied (targetStd /
 * batchStd; null for a head decoded raw, whose `normalization` says why).
 */
export interface DecodedStimuli {
  heads: Map<number, DecodedHeads>;
  normalized: Map<number, DecodedHeads>;
  scale: Record<HeadKey, Float32Array | null>;
  specs: Record<HeadKey, Head>;
  normalization: Record<HeadKey, HeadNormalization>;
  note: string;
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

export interface OpenOptions {
  preferWebgpu?: boolean;
  placement?: StagePlacement;
  /** Which build of each stage to load (precision.ts); default 'auto'. */
  precision?: PrecisionSetting;
  /** Byte progress per file and in total. */
  onProgress?: (p: PackFileProgress) => void;
  /** Cancels the open (the pack's download); files already cached stay cached. */
  signal?: AbortSignal;
  /** Opens a composite pack's parts (default: the pack source's `sibling`). */
  resolve?: PackResolver;
}

export class GenerateService {
  private bundle: Bundle | null = null;
  private pack: LoadedModelPack | null = null;
  private sessions: PackSessions | null = null;
  private ep: ExecutionProvider = 'wasm';
  private fallbackReason?: string;
  private placement: StagePlacement = 'fastest';
  private adapter: WebgpuAdapterInfo | null = null;
  private shaderF16 = false;
  /** The plain-JS decoder backend with this service's heads on it. */
  private heads_: HeadCache | null = null;
  private readonly decoded = new Map<string, Promise<DecodedStimuli>>();
  private controller: AbortController | null = null;
  private openChain: Promise<unknown> = Promise.resolve();

  /** Opens a bundle and a model pack; creates every stage's session once (WebGPU first when asked). */
  open(
    bundleSource: ShardSource,
    packSource: ShardSource,
    opts: OpenOptions = {},
  ): Promise<ServiceInfo> {
    // One open at a time: a second open (the page switching device while the first still loads)
    // would dispose the sessions the first is creating. Each waits for the previous one.
    const run = this.openChain.then(() => this.openNow(bundleSource, packSource, opts));
    this.openChain = run.catch(() => undefined);
    return run;
  }

  private async openNow(
    bundleSource: ShardSource,
    packSource: ShardSource,
    opts: OpenOptions,
  ): Promise<ServiceInfo> {
    await this.sessions?.dispose();
    this.sessions = null;
    this.pack = null;
    this.decoded.clear();
    this.bundle = await Bundle.open(bundleSource, { verify: 'sizes', signal: opts.signal });
    this.fallbackReason = undefined;
    this.ep = 'wasm';
    this.placement = opts.placement ?? 'fastest';
    this.adapter = null;
    this.shaderF16 = false;
    // Where the stages run is decided before the pack is read: it picks each stage's precision build.
    if (opts.preferWebgpu) {
      const probe = await probeWebgpu();
      this.adapter = probe.ok ? await webgpuAdapterInfo().catch(() => null) : null;
      this.shaderF16 = probe.ok && (await adapterHasShaderF16());
      ({ ep: this.ep, reason: this.fallbackReason } = chooseExecutionProvider(probe, this.adapter, this.placement));
    } else {
      this.fallbackReason = 'WebGPU not requested';
    }
    const precision = opts.precision ?? 'auto';
    const onWebgpu = this.ep === 'webgpu';
    this.pack = await openModelPack(packSource, { onProgress: opts.onProgress, signal: opts.signal, resolve: opts.resolve, precision, shaderF16: this.shaderF16, onWebgpu: () => onWebgpu });
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
    this.heads_ ??= new HeadCache(await createBackend(['js']));
    const m = this.pack.manifest;
    return {
      executionProvider: this.ep,
      fallbackReason: this.fallbackReason,
      placement: this.placement,
      adapter: this.adapter,
      packName: m.name,
      packKind: m.provenance.kind,
      imageSize: m.imageSize,
      stages: this.stageInfo(),
      precision,
      shaderF16: this.shaderF16,
      composite: this.pack.composite ?? null,
      unconditional: this.pack.unconditionalOrigin ?? null,
    };
  }

  /** Each stage's pack, build and placement (a stage that fell back to wasm says why). */
  private stageInfo(): Record<string, StageInfo> {
    const pack = this.pack!;
    const sessions = this.sessions!;
    return Object.fromEntries(
      (Object.keys(pack.manifest.stages) as StageName[]).map((k) => {
        const v = pack.manifest.stages[k];
        const o = pack.origins?.[k];
        const onGpu = sessions.onGpu(k);
        const placementReason = onGpu ? undefined : (sessions.fallbacks.get(k) ?? this.fallbackReason);
        const info: StageInfo = { role: v.role, kind: v.kind, pack: o?.pack ?? pack.manifest.name, precision: o?.precision ?? 'float32', precisionReason: o?.reason ?? '', placement: onGpu ? 'webgpu' : 'wasm', bytes: o?.bytes ?? pack.onnx[k].byteLength, parts: pack.parts?.[k]?.length || 1, ...(typeof v.settings.variant === 'string' ? { modelVariant: v.settings.variant } : {}), ...(placementReason ? { placementReason } : {}) };
        return [k, info];
      }),
    );
  }

  /**
   * A condition's decoded heads, MIRAGE's way (decodeCondition: repeats averaged, normalised over
   * the condition's stimulus averages, raw with a stated reason where a head has no training-target
   * statistics), regrouped per stimulus. Cached per subject and condition.
   */
  decodedCondition(subject: number, condition: 'vision' | 'imagery'): Promise<DecodedStimuli> {
    if (!this.bundle || !this.heads_) throw new Error('generate service: open() first');
    const key = `${subject}|${condition}`;
    let p = this.decoded.get(key);
    if (!p) {
      const bundle = this.bundle;
      const cache = this.heads_;
      p = (async (): Promise<DecodedStimuli> => {
        const dec = await decodeCondition(bundle, cache, { subject, condition, heads: HEAD_KEYS });
        const normalized = new Map<number, Partial<DecodedHeads>>();
        const heads = new Map<number, Partial<DecodedHeads>>();
        const scale = {} as Record<HeadKey, Float32Array | null>;
        const specs = {} as Record<HeadKey, Head>;
        const normalization = {} as Record<HeadKey, HeadNormalization>;
        const raw: string[] = [];
        for (const h of dec.heads) {
          const name = h.name as HeadKey;
          specs[name] = h.spec;
          scale[name] = h.slope;
          normalization[name] = h.normalization;
          if ('missing' in h.normalization) raw.push(h.normalization.missing);
          const q = h.raw.length / dec.rows.length;
          dec.rows.forEach((r, i) => {
            (normalized.get(r.stimulus) ?? normalized.set(r.stimulus, {}).get(r.stimulus)!)[name] = h.normalized.slice(i * q, (i + 1) * q);
            (heads.get(r.stimulus) ?? heads.set(r.stimulus, {}).get(r.stimulus)!)[name] = h.values.slice(i * q, (i + 1) * q);
          });
        }
        const what = `repeats averaged; MIRAGE normalisation over ${dec.batch}`;
        return {
          heads: heads as Map<number, DecodedHeads>,
          normalized: normalized as Map<number, DecodedHeads>,
          scale,
          specs,
          normalization,
          note: raw.length ? `${what}; ${raw.join('; ')}` : what,
        };
      })();
      this.decoded.set(key, p);
      p.catch(() => this.decoded.delete(key));
    }
    return p;
  }

  /** Decoded heads of one stimulus: MIRAGE's averaging and normalisation over the condition's stimuli (cached). */
  async heads(subject: number, stimulus: number, condition: 'vision' | 'imagery'): Promise<{ heads: DecodedHeads; note: string }> {
    const dec = await this.decodedCondition(subject, condition);
    const h = dec.heads.get(stimulus);
    if (!h) throw new BundleError('manifest.json', `subject ${subject} has no ${condition} trials of stimulus ${stimulus}`, { field: 'trials' });
    return { heads: h, note: dec.note };
  }

  /**
   * The heads a request reconstructs from. Without headDeltas: the decoded heads. With them, per
   * head h given: normalized_h + Δ_h · scale_h (Δ'_h = Δ_h where h is un-normalised), then the
   * head's per-token L2 norm if it has one — the normalisation MIRAGE applied to this stimulus's
   * prediction, applied to the perturbed prediction with the batch statistics held fixed. A zero Δ
   * gives the decoded heads bit for bit.
   */
  async perturbedHeads(req: ReconstructRequest): Promise<{ heads: DecodedHeads; note: string; perturbed: string | null }> {
    const dec = await this.decodedCondition(req.subject, req.condition);
    const base = dec.heads.get(req.stimulus);
    const norm = dec.normalized.get(req.stimulus);
    if (!base || !norm) throw new BundleError('manifest.json', `subject ${req.subject} has no ${req.condition} trials of stimulus ${req.stimulus}`, { field: 'trials' });
    const given = HEAD_KEYS.filter((k) => req.headDeltas?.[k] !== undefined);
    if (!req.headDeltas || !given.length) return { heads: base, note: dec.note, perturbed: null };
    for (const k of Object.keys(req.headDeltas)) {
      if (!(HEAD_KEYS as readonly string[]).includes(k)) throw new RangeError(`headDeltas: unknown head "${k}" (expected one of ${HEAD_KEYS.join(', ')})`);
    }
    const heads: DecodedHeads = { ...base };
    const how: string[] = [];
    for (const k of given) {
      const d = req.headDeltas[k]!;
      const pre = norm[k];
      if (!(d instanceof Float32Array) || d.length !== pre.length) {
        throw new RangeError(`headDeltas.${k}: expected a Float32Array of ${pre.length} values (head "${k}" output [${dec.specs[k].outputShape.join(', ')}]), got ${d instanceof Float32Array ? d.length : typeof d}`);
      }
      const s = dec.scale[k];
      const out = new Float32Array(pre.length);
      for (let i = 0; i < out.length; i++) out[i] = pre[i] + (s ? d[i] * s[i] : d[i]);
      heads[k] = applyOutputNorm({ spec: dec.specs[k] }, out);
      how.push(`${k}${s ? '' : ' (un-normalised: as given)'}${dec.specs[k].outputNorm === 'l2-token' ? ' (tokens re-L2-normalised)' : ''}`);
    }
    const label = req.deltaLabel?.trim() || 'perturbed';
    return {
      heads,
      note: dec.note,
      perturbed: `${label}: raw head changes mapped through this stimulus's normalisation (Δ·targetStd/batchStd per dimension) and added to the decoded ${how.join(', ')}`,
    };
  }

  /** Runs one reconstruction; a later call or cancel() stops the running one within one step. */
  async reconstruct(req: ReconstructRequest, onProgress?: (p: GenerateProgress) => void, onLowLevel?: (low: RgbImage, enhanced: RgbImage) => void): Promise<ReconstructResult> {
    if (!this.sessions || !this.bundle) throw new Error('generate service: open() first');
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    try {
      const { heads, note, perturbed } = await this.perturbedHeads(req);
      if (controller.signal.aborted) throw new AbortError();
      const r = await reconstruct(this.sessions, heads, req.settings ?? {}, { signal: controller.signal, onProgress, onLowLevel });
      const stim = this.bundle.manifest.stimuli.find((s) => s.id === req.stimulus);
      const m = this.pack!.manifest;
      const stages: StageProvenance = Object.fromEntries(Object.entries(this.stageInfo()).map(([k, v]) => [k, { pack: v.pack, precision: v.precision, placement: v.placement }]));
      return {
        ...r,
        request: req,
        executionProvider: this.ep,
        modelPack: { name: m.name, kind: m.provenance.kind, stages },
        stageFallbacks: Object.fromEntries(this.sessions.fallbacks),
        decoding: note,
        perturbed,
        trueCaption: stim?.caption ?? '',
      };
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
    this.heads_?.backend.dispose();
    this.sessions = null;
    this.heads_ = null;
  }
}

// One onnxruntime-web session per model-pack stage, created once (lazily) and reused for every
// step and every reconstruction. Tensors are addressed by the stage's roles (modelPack.STAGE_IO);
// the manifest maps roles to ONNX names, so this is the only place that knows ONNX value names.
// Under WebGPU the outputs that feed another session (GPU_RESIDENT_OUTPUTS) stay on the device
// ('gpu-buffer'); `runTensors` takes and returns runtime tensors wherever they live, `run` returns
// CPU values (downloading what the session left on the GPU). Both count every crossing (Transfers).
import { BundleError } from '../base/errors.ts';
import { createSession, releaseSessions, ort, type OrtSession } from '../onnx/runtime.ts';
import { StepGraphs } from './gpuSteps.ts';
import { runChain, type ChainLink } from './stageChain.ts';
import { Transfers } from './transfers.ts';
import { STAGE_IO, specDims, type LoadedModelPack, type StageName, type TensorSpec } from './modelPack.ts';

/**
 * Outputs kept on the WebGPU device because their consumer is another session or a step graph:
 * the img2img latent (-> diffuse graph), the denoisers' ε̂ (-> DDPM step graph), the image
 * encoder's tokens (-> retrieval score graph), the caption logits (-> last-position slice). The
 * low-level image and the candidates' pixels go to the CPU (shown, and PIL-exact resampling).
 */
export const GPU_RESIDENT_OUTPUTS: Partial<Record<StageName, readonly string[]>> = {
  latentEncoder: ['latents'],
  priorDenoiser: ['pred'],
  latentDecoder: ['pred'],
  imageEncoder: ['last_hidden_state'],
  captionDecoder: ['logits'],
};

export type FeedData = Float32Array | BigInt64Array;
export interface Feed {
  data: FeedData;
  /** Values bound to the spec's symbolic dims, e.g. { batch: 2 }. */
  bind?: Record<string, number>;
}

export interface StageOutput {
  data: Float32Array;
  dims: number[];
}

export class PackSessions {
  private readonly sessions = new Map<StageName, Promise<OrtSession>>();
  /** Sessions of chained stages' parts, keyed "<stage>#<part>". */
  private readonly partSessions = new Map<string, Promise<OrtSession>>();
  /** The execution providers asked for, in order (e.g. ['webgpu', 'wasm']). */
  readonly executionProviders: string[];
  /**
   * Stages moved to wasm because WebGPU could not run one of their kernels, with the reason (e.g. a
   * Conv without explicit `dilations`, which the WebGPU EP rejects; a pack from an older build or a real
   * model may still carry one). Shown by the page next to the WebGPU badge.
   */
  readonly fallbacks = new Map<StageName, string>();

  /**
   * Where each part of a chained stage left its outputs in the stage's last run ('gpu-buffer' under
   * WebGPU: the hand-off went to the next part without a download; 'cpu' on wasm).
   */
  readonly partOutputs = new Map<StageName, { part: number; name: string; location: string }[]>();

  /** The sampler's step graphs (gpuSteps.ts), sessions created once like the stages'. */
  readonly steps = new StepGraphs();

  /** Per stage, the swap to its wasm build once it runs on wasm (wasmReady), done once. */
  private readonly wasmBuilds = new Map<StageName, Promise<void>>();

  constructor(readonly pack: LoadedModelPack, opts: { executionProviders?: string[] } = {}) {
    this.executionProviders = opts.executionProviders ?? ['wasm'];
  }

  /** Whether the WebGPU execution provider was asked for at all. */
  get webgpu(): boolean {
    return this.executionProviders[0] === 'webgpu';
  }

  /** Whether a stage's session runs on WebGPU (asked for, and the stage did not fall back to wasm). */
  onGpu(stage: StageName): boolean {
    return this.webgpu && !this.fallbacks.has(stage);
  }

  /** The session of a stage, created on first use. */
  private providers(stage: StageName): string[] {
    return this.fallbacks.has(stage) ? ['wasm'] : this.executionProviders;
  }

  /**
   * Before a stage's session is made on wasm: if its build was chosen for WebGPU (float16 with
   * shader-f16) and the pack has a wasm one (float32), the pack's graph, weights, parts and origin
   * for the stage are swapped for it (LoadedModelPack.wasmBuild), so precision follows where the
   * stage really runs: after a fallback too, and on a pack opened for WebGPU then run on wasm.
   */
  private wasmReady(stage: StageName): Promise<void> {
    const rebuild = this.pack.wasmBuild;
    if (this.onGpu(stage) || !rebuild) return Promise.resolve();
    let p = this.wasmBuilds.get(stage);
    if (!p) {
      const why = this.fallbacks.has(stage) ? 'WebGPU could not run this stage' : 'opened for WebGPU, run on wasm';
      p = rebuild(stage, why).then((b) => {
        if (!b) return;
        const pack = this.pack;
        pack.onnx[stage] = b.onnx;
        if (pack.externalData) pack.externalData[stage] = b.externalData;
        else if (b.externalData) pack.externalData = { [stage]: b.externalData };
        if (pack.parts) pack.parts[stage] = b.parts;
        else if (b.parts) pack.parts = { [stage]: b.parts };
        if (pack.origins) pack.origins[stage] = b.origin;
      });
      p.catch(() => this.wasmBuilds.delete(stage));
      this.wasmBuilds.set(stage, p);
    }
    return p;
  }

  /**
   * The session of one part of a chained stage (stageChain.ts), created on first use. Under WebGPU
   * every hand-off stays on the device; the last part's outputs follow GPU_RESIDENT_OUTPUTS.
   */
  private partSession(stage: StageName, k: number): Promise<OrtSession> {
    const key = `${stage}#${k}`;
    let s = this.partSessions.get(key);
    if (!s) {
      s = this.wasmReady(stage).then(() => {
        const part = (this.pack.parts?.[stage] ?? [])[k];
        const spec = this.pack.manifest.stages[stage];
        const keep = new Set((GPU_RESIDENT_OUTPUTS[stage] ?? []).map((role) => spec.outputs[role]?.name));
        const stageOut = new Set(Object.values(spec.outputs).map((t) => t.name));
        const preferredOutputLocation = Object.fromEntries(part.outputs.map((n) => [n, !stageOut.has(n) || keep.has(n) ? 'gpu-buffer' : 'cpu'] as const));
        return createSession(part.onnx, { executionProviders: this.providers(stage), preferredOutputLocation, externalData: part.externalData }).catch((e: unknown) => {
          throw new BundleError(part.file, `cannot create an ONNX session: ${(e as Error).message}`, { field: `stages.${stage}.parts.${k}`, cause: e });
        });
      });
      s.catch(() => this.partSessions.delete(key));
      this.partSessions.set(key, s);
    }
    return s;
  }

  /** The stage's parts as chain links (sessions created on first use), or null for a one-graph stage. */
  private chain(stage: StageName): ChainLink[] | null {
    const parts = this.pack.parts?.[stage];
    if (!parts?.length) return null;
    return parts.map((p, k) => ({ inputs: p.inputs, outputs: p.outputs, run: async (feeds, fetches) => (await this.partSession(stage, k)).run(feeds, fetches) }));
  }

  private async releaseChain(stage: StageName): Promise<void> {
    for (const [key, s] of [...this.partSessions]) {
      if (!key.startsWith(`${stage}#`)) continue;
      this.partSessions.delete(key);
      await (await s.catch(() => null))?.release().catch(() => {});
    }
  }

  session(stage: StageName): Promise<OrtSession> {
    let s = this.sessions.get(stage);
    if (!s) {
      const keep = GPU_RESIDENT_OUTPUTS[stage] ?? [];
      const spec = this.pack.manifest.stages[stage];
      const preferredOutputLocation = Object.fromEntries(
        Object.entries(spec.outputs).map(([role, ts]) => [ts.name, keep.includes(role) ? 'gpu-buffer' : 'cpu'] as const),
      );
      // A real pack's weights are external data: the files the graph names travel with it (read
      // after wasmReady, which may swap them for the wasm build).
      s = this.wasmReady(stage)
        .then(() => createSession(this.pack.onnx[stage], { executionProviders: this.providers(stage), preferredOutputLocation, externalData: this.pack.externalData?.[stage] }))
        .catch((e: unknown) => {
          this.sessions.delete(stage);
          throw new BundleError(this.pack.manifest.stages[stage].file, `cannot create an ONNX session: ${(e as Error).message}`, {
            field: `stages.${stage}`,
            cause: e,
          });
        });
      this.sessions.set(stage, s);
    }
    return s;
  }

  /** Creates every stage's session now (so the first reconstruction does not pay for it). */
  async warm(onStage?: (stage: StageName, i: number, n: number) => void): Promise<void> {
    const names = Object.keys(STAGE_IO) as StageName[];
    for (let i = 0; i < names.length; i++) {
      onStage?.(names[i], i, names.length);
      await this.wasmReady(names[i]); // (the wasm build may have another number of parts)
      const parts = this.pack.parts?.[names[i]];
      if (parts?.length) for (let k = 0; k < parts.length; k++) await this.partSession(names[i], k);
      else await this.session(names[i]);
    }
  }

  /** A runtime tensor for a role's feed, checked against the manifest's shape. */
  tensor(stage: StageName, role: string, feed: Feed): ort.Tensor {
    const spec = this.pack.manifest.stages[stage];
    const ts = this.inputSpec(stage, role);
    const dims = specDims(ts, feed.bind ?? {}, `${spec.file} (${stage})`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (feed.data.length !== n) {
      throw new BundleError(spec.file, `input "${ts.name}" got ${feed.data.length} values`, {
        field: `stages.${stage}.inputs.${role}`,
        expected: `[${dims.join(', ')}] = ${n}`,
      });
    }
    if (ts.dtype === 'int64') {
      if (!(feed.data instanceof BigInt64Array)) throw new TypeError(`${stage}.${role}: int64 input needs a BigInt64Array`);
      return new ort.Tensor('int64', feed.data, dims);
    }
    if (ts.dtype === 'float32') return new ort.Tensor('float32', feed.data as Float32Array, dims);
    throw new BundleError(spec.file, `input dtype ${ts.dtype} is not supported by the pipeline`, {
      field: `stages.${stage}.inputs.${role}.dtype`,
      expected: 'float32 or int64',
    });
  }

  private inputSpec(stage: StageName, role: string): TensorSpec {
    const spec = this.pack.manifest.stages[stage];
    const ts = spec.inputs[role];
    if (!ts) throw new BundleError(spec.file, `stage ${stage} has no input role "${role}"`, { field: `stages.${stage}.inputs` });
    return ts;
  }

  /**
   * Runs a stage on runtime tensors (CPU or GPU, any mix) keyed by role; returns runtime tensors
   * keyed by role, left where the session put them (GPU_RESIDENT_OUTPUTS stay on the device under
   * WebGPU; the caller disposes them, e.g. with io.release). A GPU tensor fed to a stage that runs
   * on wasm is downloaded first; every crossing is counted in `io`.
   */
  async runTensors<R extends string>(stage: StageName, feeds: Record<string, ort.Tensor>, outputs: readonly R[], io: Transfers = new Transfers()): Promise<Record<R, ort.Tensor>> {
    const spec = this.pack.manifest.stages[stage];
    const ortFeeds: Record<string, ort.Tensor> = {};
    const names: Record<string, string> = {};
    for (const [role, t] of Object.entries(feeds)) {
      const ts = this.inputSpec(stage, role);
      const want = ts.shape;
      const ok = want.length === t.dims.length && want.every((d, i) => typeof d !== 'number' || d === t.dims[i]);
      if (!ok) {
        throw new BundleError(spec.file, `input "${ts.name}" got dims [${t.dims.join(', ')}]`, { field: `stages.${stage}.inputs.${role}`, expected: `[${want.join(', ')}]` });
      }
      names[ts.name] = role;
      ortFeeds[ts.name] = t;
    }
    const fetches = outputs.map((r) => {
      const ts = spec.outputs[r];
      if (!ts) throw new BundleError(spec.file, `stage ${stage} has no output role "${r}"`, { field: `stages.${stage}.outputs` });
      return ts.name;
    });
    const place = async (onGpu: boolean) => {
      const placed: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(ortFeeds)) placed[name] = await io.feed(t, onGpu, `${stage}/${names[name]}`);
      return placed;
    };
    let onGpu = this.onGpu(stage);
    // A chained stage runs its parts back to back; hand-offs never leave the device under WebGPU.
    const runOnce = async (feedsPlaced: Record<string, ort.Tensor>) => {
      await this.wasmReady(stage);
      const links = this.chain(stage);
      if (!links) return (await this.session(stage)).run(feedsPlaced, fetches);
      const seen: { part: number; name: string; location: string }[] = [];
      this.partOutputs.set(stage, seen);
      return runChain(links, feedsPlaced, fetches, (part, name, t) => seen.push({ part, name, location: t.location }));
    };
    let res: Awaited<ReturnType<OrtSession['run']>>;
    try {
      res = await runOnce(await place(onGpu));
    } catch (e) {
      if (this.fallbacks.has(stage) || !this.webgpu) throw e;
      // A kernel WebGPU cannot run: this stage moves to wasm for good, the others stay on WebGPU;
      // its GPU-resident inputs are downloaded from now on (mixed placement).
      this.fallbacks.set(stage, e instanceof Error ? e.message : String(e));
      const session = this.sessions.get(stage);
      this.sessions.delete(stage);
      await (await session?.catch(() => null))?.release().catch(() => {});
      await this.releaseChain(stage);
      onGpu = false;
      res = await runOnce(await place(false));
    }
    const out = {} as Record<R, ort.Tensor>;
    outputs.forEach((r, i) => {
      const t = res[fetches[i]];
      if (!t) throw new BundleError(spec.file, `the session returned no "${fetches[i]}"`, { field: `stages.${stage}.outputs.${r}` });
      io.output(t, onGpu, `${stage}/${r}`);
      out[r] = t;
    });
    return out;
  }

  /** Runs a stage with feeds keyed by role; returns the asked outputs keyed by role, on the CPU. */
  async run<R extends string>(stage: StageName, feeds: Record<string, Feed>, outputs: readonly R[], io: Transfers = new Transfers()): Promise<Record<R, StageOutput>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [role, feed] of Object.entries(feeds)) tensors[role] = this.tensor(stage, role, feed);
    const res = await this.runTensors(stage, tensors, outputs, io);
    const out = {} as Record<R, StageOutput>;
    for (const r of outputs) {
      const t = res[r];
      const d = await io.download(t, `${stage}/${r}`);
      const data = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
      out[r] = { data, dims: [...t.dims] }; // (a GPU output was freed by the download)
    }
    return out;
  }

  async dispose(): Promise<void> {
    await releaseSessions(this.sessions);
    await releaseSessions(this.partSessions);
    await this.steps.dispose();
  }
}

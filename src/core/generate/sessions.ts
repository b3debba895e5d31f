// One onnxruntime-web session per model-pack stage, created once (lazily) and reused for every
// step and every reconstruction. Tensors are addressed by the stage's roles (modelPack.STAGE_IO);
// the manifest maps roles to ONNX names, so this is the only place that knows ONNX value names.
import { BundleError } from '../bundle/errors.ts';
import { createSession, ort, type OrtSession } from '../onnx/runtime.ts';
import { STAGE_IO, specDims, type LoadedModelPack, type StageName } from './modelPack.ts';

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
  /** The execution providers asked for, in order (e.g. ['webgpu', 'wasm']). */
  readonly executionProviders: string[];
  /**
   * Stages moved to wasm because WebGPU could not run one of their kernels, with the reason (e.g. a
   * 1-D Conv, which the WebGPU EP does not implement). Shown by the page next to the WebGPU badge.
   */
  readonly fallbacks = new Map<StageName, string>();

  constructor(readonly pack: LoadedModelPack, opts: { executionProviders?: string[] } = {}) {
    this.executionProviders = opts.executionProviders ?? ['wasm'];
  }

  /** The session of a stage, created on first use. */
  private providers(stage: StageName): string[] {
    return this.fallbacks.has(stage) ? ['wasm'] : this.executionProviders;
  }

  session(stage: StageName): Promise<OrtSession> {
    let s = this.sessions.get(stage);
    if (!s) {
      s = createSession(this.pack.onnx[stage], { executionProviders: this.providers(stage) }).catch((e: unknown) => {
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
      await this.session(names[i]);
    }
  }

  /** Runs a stage with feeds keyed by role; returns the asked outputs keyed by role. */
  async run<R extends string>(stage: StageName, feeds: Record<string, Feed>, outputs: readonly R[]): Promise<Record<R, StageOutput>> {
    const spec = this.pack.manifest.stages[stage];
    const session = await this.session(stage);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [role, feed] of Object.entries(feeds)) {
      const ts = spec.inputs[role];
      if (!ts) throw new BundleError(spec.file, `stage ${stage} has no input role "${role}"`, { field: `stages.${stage}.inputs` });
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
        ortFeeds[ts.name] = new ort.Tensor('int64', feed.data, dims);
      } else if (ts.dtype === 'float32') {
        ortFeeds[ts.name] = new ort.Tensor('float32', feed.data as Float32Array, dims);
      } else {
        throw new BundleError(spec.file, `input dtype ${ts.dtype} is not supported by the pipeline`, {
          field: `stages.${stage}.inputs.${role}.dtype`,
          expected: 'float32 or int64',
        });
      }
    }
    const fetches = outputs.map((r) => {
      const ts = spec.outputs[r];
      if (!ts) throw new BundleError(spec.file, `stage ${stage} has no output role "${r}"`, { field: `stages.${stage}.outputs` });
      return ts.name;
    });
    let res: Awaited<ReturnType<OrtSession['run']>>;
    try {
      res = await session.run(ortFeeds, fetches);
    } catch (e) {
      if (this.fallbacks.has(stage) || !this.executionProviders.includes('webgpu')) throw e;
      // A kernel WebGPU cannot run: this stage moves to wasm for good, the others stay on WebGPU.
      this.fallbacks.set(stage, e instanceof Error ? e.message : String(e));
      this.sessions.delete(stage);
      await session.release().catch(() => {});
      res = await (await this.session(stage)).run(ortFeeds, fetches);
    }
    const out = {} as Record<R, StageOutput>;
    outputs.forEach((r, i) => {
      const t = res[fetches[i]];
      if (!t) throw new BundleError(spec.file, `the session returned no "${fetches[i]}"`, { field: `stages.${stage}.outputs.${r}` });
      const data = t.type === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>);
      out[r] = { data, dims: [...t.dims] };
      t.dispose?.();
    });
    return out;
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) {
      try {
        await (await s).release();
      } catch {
        /* a failed session has nothing to release */
      }
    }
    this.sessions.clear();
  }
}

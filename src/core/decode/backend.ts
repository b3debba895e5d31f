// Decoder backends: the same reduced-rank heads run on tfjs (webgpu, wasm, cpu) or on the plain-JS
// reference. A head's A and B are uploaded once as tensors; predict is two matMuls, (x·A)·B + b;
// project is x·A alone (the cortex panel perturbs that: Δŷ = (Δx·A)·B).
//
// tfjs keeps one active backend per JS realm, so a TfjsBackend re-activates its backend before
// each call; the app uses one backend per worker, the benchmark runs them one after another.
// The webgpu and wasm packages are imported lazily so the CLI and tests never load them unasked.
import type * as TF from '@tensorflow/tfjs';
import type { HeadName } from '../bundle/manifest.ts';
import { applyInputNorm, applyOutputNorm, headOutputSize, headVoxels, predictHead, projectHead, type LoadedHead } from './predict.ts';

export type BackendName = 'webgpu' | 'wasm' | 'cpu' | 'js';
export const BACKEND_NAMES: readonly BackendName[] = ['webgpu', 'wasm', 'cpu', 'js'];

export interface DecoderBackend {
  readonly name: BackendName;
  /** What runs underneath, for the UI's badge, e.g. "SwiftShader (CPU emulation of WebGPU)". */
  readonly detail?: string;
  setHead(h: LoadedHead): Promise<void>;
  /** [nTrials, nOut] after input and output norms (not MIRAGE's batch normalisation). */
  predict(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array>;
  /** x·A only (after the input norm): [nTrials, rank]. */
  project(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array>;
  dispose(): void;
}

export interface BackendOptions {
  /**
   * Where tfjs-backend-wasm finds its .wasm files: a URL prefix the page serves (ending in "/"),
   * or, in Node, the folder node_modules/@tensorflow/tfjs-backend-wasm/dist/.
   */
  wasmPaths?: string;
  /** Told about each backend that failed before the one returned. */
  onFallback?: (name: BackendName, error: unknown) => void;
  /**
   * Refuse a software WebGPU adapter (SwiftShader): it computes correctly but far slower than wasm.
   * Off by default so headless test browsers still exercise the WebGPU path.
   */
  skipSoftwareWebgpu?: boolean;
}

export interface WebgpuAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** SwiftShader or another CPU implementation. */
  software: boolean;
}

/** The WebGPU adapter this context would get, or null without WebGPU. */
export async function webgpuAdapterInfo(): Promise<WebgpuAdapterInfo | null> {
  type Adapter = { info?: Record<string, string>; isFallbackAdapter?: boolean };
  const gpu = typeof navigator === 'undefined' ? undefined : (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: Boolean(adapter.isFallbackAdapter) || /swiftshader|llvmpipe|software/i.test(text),
  };
}

/**
 * tfjs has one active backend per realm: two starts that overlap switch it under each other (one
 * falls back for no reason, or a half-initialised backend is used). Every start in this realm waits
 * for the previous one.
 */
let startChain: Promise<unknown> = Promise.resolve();

/** Tries each backend in `order` and returns the first that starts and passes a tiny matMul check. */
export function createBackend(order: BackendName[], opts: BackendOptions = {}): Promise<DecoderBackend> {
  const run = startChain.then(() => createBackendNow(order, opts));
  startChain = run.catch(() => undefined);
  return run;
}

async function createBackendNow(order: BackendName[], opts: BackendOptions): Promise<DecoderBackend> {
  const failures: string[] = [];
  for (const name of order) {
    try {
      const be = name === 'js' ? new JsBackend() : await TfjsBackend.start(name, opts);
      return be;
    } catch (e) {
      failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      opts.onFallback?.(name, e);
    }
  }
  throw new Error(`no decoder backend could start (${failures.join('; ')})`);
}

/** The plain-JS reference as a backend (always available). */
export class JsBackend implements DecoderBackend {
  readonly name = 'js' as const;
  readonly detail = 'plain JavaScript reference (float64 accumulation)';
  private readonly heads = new Map<HeadName, LoadedHead>();
  async setHead(h: LoadedHead): Promise<void> {
    this.heads.set(h.spec.name, h);
  }
  private head(name: HeadName): LoadedHead {
    const h = this.heads.get(name);
    if (!h) throw new Error(`decoder backend js: head "${name}" was not set`);
    return h;
  }
  async predict(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array> {
    return predictHead(this.head(name), betas, nTrials);
  }
  async project(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array> {
    return projectHead(this.head(name), betas, nTrials);
  }
  dispose(): void {
    this.heads.clear();
  }
}

interface TfHead {
  head: LoadedHead;
  A: TF.Tensor2D;
  B: TF.Tensor2D;
  b: TF.Tensor1D;
}

let tfModule: Promise<typeof TF> | null = null;
function loadTf(): Promise<typeof TF> {
  tfModule ??= import('@tensorflow/tfjs');
  return tfModule;
}

/** A head on one tfjs backend. */
export class TfjsBackend implements DecoderBackend {
  private readonly heads = new Map<HeadName, TfHead>();
  private constructor(
    readonly name: Exclude<BackendName, 'js'>,
    private readonly tf: typeof TF,
    readonly detail?: string,
  ) {}

  static async start(name: Exclude<BackendName, 'js'>, opts: BackendOptions = {}): Promise<TfjsBackend> {
    const tf = await loadTf();
    let detail: string | undefined;
    if (name === 'webgpu') {
      if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) {
        throw new Error('navigator.gpu is not available (no WebGPU in this context)');
      }
      const info = await webgpuAdapterInfo();
      if (!info) throw new Error('navigator.gpu.requestAdapter() returned no adapter');
      if (info.software && opts.skipSoftwareWebgpu) {
        throw new Error(`the WebGPU adapter is a software implementation (${info.architecture || info.vendor || 'unknown'}); skipped`);
      }
      detail = info.software
        ? `${info.architecture || 'software'} (CPU emulation of WebGPU)`
        : [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || undefined;
      await import('@tensorflow/tfjs-backend-webgpu');
    } else if (name === 'wasm') {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (opts.wasmPaths) wasm.setWasmPaths(opts.wasmPaths);
    }
    if (!(await tf.setBackend(name))) throw new Error(`tfjs could not initialise the ${name} backend`);
    await tf.ready();
    const be = new TfjsBackend(name, tf, detail ?? (name === 'wasm' ? 'tfjs wasm (XNNPACK)' : 'tfjs cpu (JavaScript kernels)'));
    // Smoke check: a backend that registers but cannot compute must fail here, not mid-decode.
    const check = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2])));
    const v = await check.data();
    check.dispose();
    if (v[0] !== 1 || v[1] !== 2 || v[2] !== 3 || v[3] !== 4) throw new Error(`tfjs ${name} backend computed a wrong matMul`);
    return be;
  }

  private async activate(): Promise<void> {
    if (this.tf.getBackend() !== this.name && !(await this.tf.setBackend(this.name))) {
      throw new Error(`tfjs backend ${this.name} could not be re-activated`);
    }
  }

  async setHead(h: LoadedHead): Promise<void> {
    await this.activate();
    const tf = this.tf;
    const p = headVoxels(h);
    const r = h.spec.rank;
    const q = headOutputSize(h.spec);
    this.disposeHead(h.spec.name);
    this.heads.set(h.spec.name, {
      head: h,
      A: tf.tensor2d(h.A, [p, r]),
      B: tf.tensor2d(h.B, [r, q]),
      b: tf.tensor1d(h.intercept),
    });
  }

  private get(name: HeadName): TfHead {
    const t = this.heads.get(name);
    if (!t) throw new Error(`decoder backend ${this.name}: head "${name}" was not set`);
    return t;
  }

  private input(t: TfHead, betas: Float32Array, nTrials: number): Float32Array {
    const p = headVoxels(t.head);
    if (betas.length !== nTrials * p) {
      throw new RangeError(`head ${t.head.spec.name}: ${betas.length} betas for ${nTrials} trials of ${p} voxels (expected ${nTrials * p})`);
    }
    return applyInputNorm(t.head, betas, nTrials);
  }

  async predict(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array> {
    await this.activate();
    const t = this.get(name);
    const x = this.input(t, betas, nTrials);
    const tf = this.tf;
    const y = tf.tidy(() => tf.add(tf.matMul(tf.matMul(tf.tensor2d(x, [nTrials, x.length / nTrials]), t.A), t.B), t.b));
    try {
      const out = (await y.data()) as Float32Array;
      return applyOutputNorm(t.head, out);
    } finally {
      y.dispose();
    }
  }

  async project(name: HeadName, betas: Float32Array, nTrials: number): Promise<Float32Array> {
    await this.activate();
    const t = this.get(name);
    const x = this.input(t, betas, nTrials);
    const tf = this.tf;
    const h = tf.tidy(() => tf.matMul(tf.tensor2d(x, [nTrials, x.length / nTrials]), t.A));
    try {
      return (await h.data()) as Float32Array;
    } finally {
      h.dispose();
    }
  }

  private disposeHead(name: HeadName): void {
    const t = this.heads.get(name);
    if (!t) return;
    t.A.dispose();
    t.B.dispose();
    t.b.dispose();
    this.heads.delete(name);
  }

  dispose(): void {
    for (const name of [...this.heads.keys()]) this.disposeHead(name);
  }
}

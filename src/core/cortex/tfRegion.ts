// The factored region update on a tfjs backend (webgpu, wasm, cpu). Each head's A [nVox, rank] and
// B [rank, outSize] are uploaded once; a slider move uploads the region's indices and dx_R
// (|R| ints + |R| floats), gathers A_R = A[R] on the device (kept while the region stays the same,
// which is every move of one slider), and runs (dx_R · A_R) · B, reading back the change. Heads
// with an input L2 norm need the rank-space product first (the engine renormalises it exactly in
// float64), then u' · B on the device. LinearChangeEngine.changeOn drives this interface.
// startRegionProduct picks the backend the way decoding does (decode's createBackend: tries each in
// order, smoke-checks a matMul) and loads tfjs lazily, so Node tests and the CLI never load it unasked.
import type * as TF from '@tensorflow/tfjs';
import type { HeadName } from '../bundle/manifest.ts';
import { createBackend, type BackendName, type BackendOptions } from '../decode/backend.ts';
import { headOutSize, type FactoredHead, type RegionDelta } from './types.ts';

/** Where the region products run: a tfjs backend, or null for the engine's plain-JS float64 path. */
export interface RegionProduct {
  /** tfjs backend name: 'webgpu' | 'wasm' | 'cpu'. */
  readonly backend: string;
  /** What runs underneath, e.g. "SwiftShader (CPU emulation of WebGPU)". */
  readonly detail: string;
  /** dx_R · A_R, [rank]. */
  project(head: HeadName, d: RegionDelta): Promise<Float32Array>;
  /** u · B, [outSize]. */
  timesB(head: HeadName, u: ArrayLike<number>): Promise<Float32Array>;
  /** (dx_R · A_R) · B, [outSize], in one device round trip. */
  delta(head: HeadName, d: RegionDelta): Promise<Float32Array>;
}

interface DeviceHead {
  head: FactoredHead;
  A: TF.Tensor2D;
  B: TF.Tensor2D;
  /** The last gathered region: its indices (a copy) and A_R on the device. */
  region: { indices: Int32Array; AR: TF.Tensor2D } | null;
}

function sameIndices(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class TfRegionProduct implements RegionProduct {
  private readonly heads = new Map<HeadName, DeviceHead>();

  constructor(
    private readonly tf: typeof TF,
    readonly backend: string,
    readonly detail: string,
  ) {}

  /** Uploads a head's A and B (replacing a head of the same name). */
  setHead(head: FactoredHead): void {
    this.disposeHead(head.spec.name);
    const r = head.spec.rank;
    this.heads.set(head.spec.name, {
      head,
      A: this.tf.tensor2d(head.A, [head.A.length / r, r]),
      B: this.tf.tensor2d(head.B, [r, headOutSize(head)]),
      region: null,
    });
  }

  get headNames(): HeadName[] {
    return [...this.heads.keys()];
  }

  private get(name: HeadName): DeviceHead {
    const h = this.heads.get(name);
    if (!h) throw new RangeError(`region product (${this.backend}): head "${name}" was not uploaded`);
    return h;
  }

  private async activate(): Promise<void> {
    // tfjs has one active backend per realm; the benchmark switches between them.
    if (this.tf.getBackend() !== this.backend && !(await this.tf.setBackend(this.backend))) {
      throw new Error(`tfjs backend ${this.backend} could not be re-activated`);
    }
  }

  /** A_R on the device, gathered again only when the region's voxels change. */
  private regionRows(h: DeviceHead, indices: Int32Array): TF.Tensor2D {
    if (h.region && sameIndices(h.region.indices, indices)) return h.region.AR;
    h.region?.AR.dispose();
    const tf = this.tf;
    const AR = tf.tidy(() => tf.gather(h.A, tf.tensor1d(indices, 'int32')) as TF.Tensor2D);
    h.region = { indices: indices.slice(), AR };
    return AR;
  }

  private async read(y: TF.Tensor): Promise<Float32Array> {
    try {
      return (await y.data()) as Float32Array;
    } finally {
      y.dispose();
    }
  }

  async project(name: HeadName, d: RegionDelta): Promise<Float32Array> {
    const h = this.get(name);
    if (!d.indices.length) return new Float32Array(h.head.spec.rank);
    await this.activate();
    const AR = this.regionRows(h, d.indices);
    const tf = this.tf;
    return this.read(tf.tidy(() => tf.matMul(tf.tensor2d(d.values, [1, d.values.length]), AR)));
  }

  async timesB(name: HeadName, u: ArrayLike<number>): Promise<Float32Array> {
    const h = this.get(name);
    await this.activate();
    const tf = this.tf;
    return this.read(tf.tidy(() => tf.matMul(tf.tensor2d(Float32Array.from(u), [1, u.length]), h.B)));
  }

  async delta(name: HeadName, d: RegionDelta): Promise<Float32Array> {
    const h = this.get(name);
    if (!d.indices.length) return new Float32Array(headOutSize(h.head));
    await this.activate();
    const AR = this.regionRows(h, d.indices);
    const tf = this.tf;
    return this.read(tf.tidy(() => tf.matMul(tf.matMul(tf.tensor2d(d.values, [1, d.values.length]), AR), h.B)));
  }

  private disposeHead(name: HeadName): void {
    const h = this.heads.get(name);
    if (!h) return;
    h.A.dispose();
    h.B.dispose();
    h.region?.AR.dispose();
    this.heads.delete(name);
  }

  dispose(): void {
    for (const n of [...this.heads.keys()]) this.disposeHead(n);
  }
}

/** The backend the region products run on, as the panel's badge shows it. */
export interface RegionBackendInfo {
  name: BackendName;
  detail: string;
  /** A software WebGPU adapter (SwiftShader): correct, but the CPU emulates the GPU. */
  software: boolean;
  /** Backends tried before this one, with why they failed (start, or a failed run later). */
  fallbacks: string[];
}

/**
 * Starts the first backend of `order` that works (default webgpu -> wasm -> cpu -> js) and uploads
 * the heads. Returns the product (null for 'js': the engine's own float64 path) and what runs.
 */
export async function startRegionProduct(
  heads: FactoredHead[],
  order: BackendName[] = ['webgpu', 'wasm', 'cpu', 'js'],
  opts: BackendOptions = {},
): Promise<{ product: TfRegionProduct | null; info: RegionBackendInfo }> {
  const fallbacks: string[] = [];
  const be = await createBackend(order, {
    ...opts,
    onFallback: (name, e) => {
      fallbacks.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      opts.onFallback?.(name, e);
    },
  });
  const detail = be.detail ?? be.name;
  be.dispose();
  const software = be.name === 'webgpu' && /emulation|swiftshader|software/i.test(detail);
  const info: RegionBackendInfo = { name: be.name, detail, software, fallbacks };
  if (be.name === 'js') return { product: null, info };
  const tf = await import('@tensorflow/tfjs');
  const product = new TfRegionProduct(tf, be.name, detail);
  try {
    for (const h of heads) product.setHead(h);
  } catch (e) {
    product.dispose();
    throw e;
  }
  return { product, info };
}

// The bookkeeping of a reconstruction's tensors (issue 3): every tensor that crosses between the
// CPU and the WebGPU device (explicitly, or implicitly because a CPU tensor was fed to a WebGPU
// session, or a WebGPU session returned a CPU output) is counted with its bytes under a label, so a
// test can assert what crossed; and the GPU tensors a run holds are disposed when it ends. Mixed
// placement (a stage that fell back to wasm) is handled here: a GPU tensor fed to a wasm session is
// downloaded first (counted), a CPU tensor fed to a WebGPU session is uploaded by the runtime (counted).
import { isGpuTensor, ort } from '../onnx/runtime.ts';

export interface TransferCount {
  uploads: number;
  uploadBytes: number;
  downloads: number;
  downloadBytes: number;
}

export interface TransferStats extends TransferCount {
  /** Tensors handed from one WebGPU session to the next without leaving the device. */
  gpuHandoffs: number;
  /** Step-graph runs (sampler arithmetic evaluated by the runtime instead of TypeScript). */
  stepGraphRuns: number;
  /** The same counts per label ("<stage or graph>/<tensor>"), to say which tensors crossed. */
  byLabel: Record<string, TransferCount>;
}

export function emptyTransferStats(): TransferStats {
  return { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0, gpuHandoffs: 0, stepGraphRuns: 0, byLabel: {} };
}

const BYTES: Record<string, number> = { float32: 4, int64: 8, int32: 4, uint8: 1, bool: 1, float16: 2 };

export function tensorBytes(t: ort.Tensor): number {
  return t.size * (BYTES[t.type] ?? 4);
}

/** Counts the CPU<->GPU crossings of one reconstruction and owns the tensors it must dispose. */
export class Transfers {
  readonly stats: TransferStats = emptyTransferStats();
  private readonly held = new Set<ort.Tensor>();

  private count(kind: 'up' | 'down', label: string, bytes: number): void {
    const s = this.stats;
    const l = (s.byLabel[label] ??= { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0 });
    if (kind === 'up') {
      s.uploads++;
      s.uploadBytes += bytes;
      l.uploads++;
      l.uploadBytes += bytes;
    } else {
      s.downloads++;
      s.downloadBytes += bytes;
      l.downloads++;
      l.downloadBytes += bytes;
    }
  }

  /** A tensor about to be fed to a session placed on the GPU (onGpu) or on wasm. */
  async feed(t: ort.Tensor, onGpu: boolean, label: string): Promise<ort.Tensor> {
    if (isGpuTensor(t)) {
      if (onGpu) {
        this.stats.gpuHandoffs++;
        return t;
      }
      // mixed placement: the consumer runs on wasm and needs the values on the CPU
      return new ort.Tensor(t.type as 'float32', (await this.download(t, label)) as Float32Array, t.dims);
    }
    if (onGpu) this.count('up', label, tensorBytes(t)); // the runtime uploads it for this run
    return t;
  }

  /** An output a session returned: a CPU output of a WebGPU session was downloaded by the runtime. */
  output(t: ort.Tensor, onGpu: boolean, label: string): void {
    if (onGpu && !isGpuTensor(t)) this.count('down', label, tensorBytes(t));
  }

  /**
   * The values of a tensor on the CPU (a download when it lives on the GPU). The GPU copy is freed
   * (getData(true)): the tensor is a CPU tensor from then on, and a later GPU consumer uploads it.
   */
  async download(t: ort.Tensor, label: string): Promise<ort.Tensor['data']> {
    if (!isGpuTensor(t)) return t.data;
    this.count('down', label, tensorBytes(t));
    return t.getData(true);
  }

  /** Float32 values on the CPU; disposes a GPU tensor after reading it. */
  async toCpu(t: ort.Tensor, label: string): Promise<Float32Array> {
    const d = await this.download(t, label);
    const out = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
    this.release(t);
    return out;
  }

  /** Keeps a tensor until releaseAll() (conditioning uploaded once, reused by every step). */
  hold<T extends ort.Tensor>(t: T): T {
    this.held.add(t);
    return t;
  }

  /** Frees a GPU tensor now (no-op for CPU tensors and tensors someone else holds). */
  release(t: ort.Tensor | null | undefined): void {
    if (!t || this.held.has(t)) return;
    if (isGpuTensor(t)) t.dispose();
  }

  releaseAll(): void {
    for (const t of this.held) if (isGpuTensor(t)) t.dispose();
    this.held.clear();
  }
}

// Running ONNX graphs with onnxruntime-web: in Node (CLI, tests) the package's node build uses the
// wasm execution provider; in browsers and workers the caller may ask for webgpu first.
import * as ort from 'onnxruntime-web';

export type OrtSession = ort.InferenceSession;
export type OrtTensor = ort.Tensor;
export { ort };

let configured = false;
function configure(): void {
  if (configured) return;
  configured = true;
  // One thread: Node lacks the cross-origin isolation worker setup, and the demo's graphs are small.
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (isNode) ort.env.wasm.numThreads = 1;
}

export interface SessionOptions {
  executionProviders?: string[];
  /**
   * Where outputs stay (onnxruntime-web's preferredOutputLocation): 'gpu-buffer' keeps them on the
   * WebGPU device for the next session (the caller must dispose() them). Only passed to WebGPU
   * sessions; a wasm session always returns CPU tensors.
   */
  preferredOutputLocation?: 'cpu' | 'gpu-buffer' | Record<string, 'cpu' | 'gpu-buffer'>;
  /**
   * ONNX external data: weight files the model refers to by relative path (real packs keep their
   * weights out of the protobuf, split under the WebGPU buffer limits; packers/onnxWeights.ts).
   */
  externalData?: { path: string; data: Uint8Array }[];
}

/** True for a tensor whose data lives on the WebGPU device (an output kept there, or one made there). */
export function isGpuTensor(t: ort.Tensor): boolean {
  return t.location === 'gpu-buffer';
}

/** Creates an inference session from the bytes of an ONNX model. */
export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  configure();
  const executionProviders = opts.executionProviders ?? ['wasm'];
  const onWebgpu = executionProviders[0] === 'webgpu';
  return ort.InferenceSession.create(bytes, {
    executionProviders,
    graphOptimizationLevel: 'all',
    ...(opts.externalData?.length ? { externalData: opts.externalData } : {}),
    ...(onWebgpu && opts.preferredOutputLocation ? { preferredOutputLocation: opts.preferredOutputLocation } : {}),
  });
}

/** A float32 tensor for a session input. */
export function floatTensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** Runs a session with named float32 inputs and returns the named output's data. */
export async function runFloat(
  session: ort.InferenceSession,
  inputs: Record<string, { data: Float32Array; dims: number[] }>,
  output: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) feeds[k] = floatTensor(v.data, v.dims);
  const res = await session.run(feeds);
  const t = res[output];
  if (!t) throw new Error(`ONNX session has no output "${output}" (has: ${Object.keys(res).join(', ')})`);
  return { data: t.data as Float32Array, dims: t.dims };
}

/** Releases every session of a cache (one that failed to build has nothing to release) and empties it. */
export async function releaseSessions(sessions: Map<unknown, Promise<OrtSession>>): Promise<void> {
  for (const s of sessions.values()) {
    try {
      await (await s).release();
    } catch {
      /* a failed session has nothing to release */
    }
  }
  sessions.clear();
}

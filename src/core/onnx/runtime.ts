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
  // Before the first session loads ORT's wasm module, which binds console.error as its log sink.
  else routeOrtConsole();
}

export type OrtLogSeverity = 'verbose' | 'info' | 'warning' | 'error' | 'fatal';

/** One line of onnxruntime's own log (its C++ logger, e.g. node placement notes), colour codes removed. */
export interface OrtLogLine {
  severity: OrtLogSeverity;
  /** The logger's message without timestamp and source location. */
  message: string;
  /** Where it was logged: the worker's name (e.g. "mirage-generate") or "page". */
  context: string;
  /** Date.now() when it was logged. */
  time: number;
}

/** BroadcastChannel on which browser contexts publish their onnxruntime log lines for the page. */
export const ORT_LOG_CHANNEL = 'mirage-onnxruntime-log';

const SEVERITY: Record<string, OrtLogSeverity> = { V: 'verbose', I: 'info', W: 'warning', E: 'error', F: 'fatal' };
// eslint-disable-next-line no-control-regex -- the terminal colour codes ORT's logger writes
const ANSI = /\x1b\[[0-9;]*m/g;
const ORT_LINE = /\[([VIWEF]):onnxruntime:[^\]]*\]\s*([\s\S]*)$/;

/** An onnxruntime log line as its wasm writes it to the console, or null for any other text. */
export function parseOrtLogLine(text: string): { severity: OrtLogSeverity; message: string } | null {
  const m = ORT_LINE.exec(text.replace(ANSI, ''));
  return m ? { severity: SEVERITY[m[1]], message: m[2].trim() } : null;
}

const recent: OrtLogLine[] = [];
const RECENT_MAX = 200;
let channel: BroadcastChannel | null = null;

/** onnxruntime's log lines of this context so far (the newest RECENT_MAX). */
export function ortLogLines(): readonly OrtLogLine[] {
  return recent;
}

/**
 * In browsers ORT's C++ logger writes through console.error with terminal colour codes, so a
 * harmless node-placement warning reads as a page error. Its lines are taken off the console here
 * and kept (ortLogLines) and published on ORT_LOG_CHANNEL, where the page shows them as
 * diagnostics; every other console call passes through untouched.
 */
function routeOrtConsole(): void {
  const own = (globalThis as unknown as { name?: unknown }).name; // a worker's name; '' on a page
  const context = typeof own === 'string' && own ? own : 'page';
  if (typeof BroadcastChannel !== 'undefined') channel = new BroadcastChannel(ORT_LOG_CHANNEL);
  for (const level of ['error', 'warn', 'log', 'info'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      const parsed = args.length === 1 && typeof args[0] === 'string' ? parseOrtLogLine(args[0]) : null;
      if (!parsed) return original.apply(console, args);
      const line: OrtLogLine = { ...parsed, context, time: Date.now() };
      recent.push(line);
      if (recent.length > RECENT_MAX) recent.shift();
      channel?.postMessage(line);
    };
  }
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
    // Warnings (node placement on WebGPU) included: in browsers they are routed to the page's
    // diagnostics (routeOrtConsole), not printed as errors.
    logSeverityLevel: 2,
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

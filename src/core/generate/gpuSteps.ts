// GPU residency for the generation chain (issue 3). The diffusion sampler's per-step arithmetic
// (CFG mix with ρ, the DDPM update on the shifted cosine schedule, img2img noising) also exists as
// small ONNX "step" graphs written here with GraphBuilder, so that under WebGPU the latent never
// leaves the device between denoiser calls: denoiser output (gpu-buffer) -> step graph -> next x
// (gpu-buffer) -> denoiser. The schedule's scalars and the seeded noise are still computed in
// TypeScript (sampler.ts, base/rng.ts) and uploaded: the noise is identical on every backend.
// What crossed between the CPU and the device is counted by transfers.ts's `Transfers`.
import { AbortError } from '../base/errors.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { createSession, releaseSessions, ort, type OrtSession } from '../onnx/runtime.ts';
import { initNoise, samplerSteps, stepNoise, type SamplerSchedule } from './sampler.ts';
import type { Transfers } from './transfers.ts';

// ---------------------------------------------------------------------------------------------
// Step graphs. Shapes are fixed per graph (batch and latent dims are known when a run starts);
// sessions are cached by a key naming the graph and its shapes, created once, reused.

/**
 * Order of the per-step scalars fed as the `coef` input of the DDPM step graph. The update
 * x' = ap·(x − b·ε̂)/a + epsScale·ε̂ + σ·z is folded to x' = cx·x + ce·k·ε̂ + σ·z with cx = ap/a,
 * ce = epsScale − ap·b/a and the ρ rescale k = ρ·std(cond)/(std(ε̂) + 1e-9) + (1 − ρ) split as
 * ce·k = ceRho·ratio + ceRest (ceRho = ce·ρ, ceRest = ce·(1 − ρ); ceRest = ce without ρ), all
 * computed in float64: every scalar op done here is a GPU dispatch saved per step.
 */
export const STEP_COEFS = ['cfg', 'cx', 'ceRho', 'ceRest', 'sigma'] as const;

/** The step graph's scalars for one DDPM step (see STEP_COEFS). */
export function stepCoefficients(cfg: number | null, cfgRho: number, k: { a: number; b: number; ap: number; epsScale: number; sigma: number }): Float32Array {
  const ce = k.epsScale - (k.ap * k.b) / k.a;
  const rho = cfg !== null && cfgRho > 0 ? cfgRho : 0; // the graph rescales only with guidance and ρ > 0
  return Float32Array.from([cfg ?? 1, k.ap / k.a, ce * rho, ce * (1 - rho), k.sigma]);
}

export interface DdpmGraphSpec {
  /** Dims of one candidate's latent, e.g. [16, 24, 24]. */
  rowDims: number[];
  batch: number;
  /** pred has 2·batch rows [cond; uncond] and is mixed with CFG (and ρ when rho is true). */
  guided: boolean;
  rho: boolean;
  /** The step adds σ·z (false on the last step, where σ = 0). */
  noise: boolean;
  /** Also output [x'; x'] (the next guided denoiser input). */
  dup: boolean;
}

const n = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * gdf's guidance (lerp + ρ std rescale) and the DDPM update, as one graph: the sampler's loop body.
 * Written for few kernels (each node is a GPU dispatch; a CPU-emulated GPU pays ~0.5 ms each): the
 * two unbiased stds (torch's .std() over the whole batch) in one reduction over [cond; pred] as
 * [2, count], ReduceSumSquare for Mul + ReduceSum, the scalar algebra folded into STEP_COEFS.
 */
export function ddpmStepGraph(s: DdpmGraphSpec): GraphBuilder {
  const B = s.batch;
  const dims = [B, ...s.rowDims];
  const g = new GraphBuilder('mirage-ddpm-step');
  g.metadata.role = 'gdf DDPM step (CFG, rho rescale, DDIM eta = 1) of sampler.ts, as a graph';
  g.input('pred', 'float32', s.guided ? [2 * B, ...s.rowDims] : dims).input('x', 'float32', dims).input('coef', 'float32', [STEP_COEFS.length]);
  if (s.noise) g.input('z', 'float32', dims);
  // one Split instead of a Gather per scalar: every node is a GPU dispatch
  const coefNames = STEP_COEFS.map((k) => g.fresh(k));
  g.node('Split', ['coef', g.int64s(STEP_COEFS.map(() => 1), 'split')], coefNames, { axis: 0 });
  const c = (name: (typeof STEP_COEFS)[number]) => coefNames[STEP_COEFS.indexOf(name)];
  let pred = 'pred';
  let scale = c('ceRest'); // ce (·(1 − ρ) with the rescale)
  if (s.guided) {
    const cond = g.fresh('cond');
    const unc = g.fresh('uncond');
    g.node('Split', ['pred', g.int64s([B, B], 'split')], [cond, unc], { axis: 0 });
    pred = g.op('Add', [unc, g.op('Mul', [c('cfg'), g.op('Sub', [cond, unc])])]);
    if (s.rho) {
      const count = n(dims);
      // [std(cond), std(pred)] in one pass: rows of [cond; pred] reshaped to [2, count]
      const both = g.op('Reshape', [g.op('Concat', [cond, pred], { axis: 0 }), g.int64s([2, count], 'rows2')]);
      const d = g.op('Sub', [both, g.op('ReduceMean', [both], { axes: [1], keepdims: 1 })]);
      const std = g.op('Sqrt', [g.op('Div', [g.op('ReduceSumSquare', [d], { axes: [1], keepdims: 0 }), g.floats([count - 1], [], 'nm1')])]);
      const sCond = g.fresh('std_cond');
      const sPred = g.fresh('std_pred');
      g.node('Split', [std, g.int64s([1, 1], 'split2')], [sCond, sPred], { axis: 0 });
      // ce·k = ce·ρ · std(cond)/(std(pred) + 1e-9) + ce·(1 − ρ)
      const ratio = g.op('Div', [sCond, g.op('Add', [sPred, g.floats([1e-9], [], 'eps')])]);
      scale = g.op('Add', [g.op('Mul', [c('ceRho'), ratio]), c('ceRest')]);
    }
  }
  let next = g.op('Add', [g.op('Mul', [c('cx'), 'x']), g.op('Mul', [scale, pred])]);
  if (s.noise) next = g.op('Add', [next, g.op('Mul', [c('sigma'), 'z'])]);
  g.node('Identity', [next], ['x_next']);
  g.output('x_next', 'float32', dims);
  if (s.dup) {
    g.node('Concat', ['x_next', 'x_next'], ['xx_next'], { axis: 0 });
    g.output('xx_next', 'float32', [2 * B, ...s.rowDims]);
  }
  return g;
}

/** [x; x]: the first guided denoiser input. */
export function dupGraph(dims: number[]): GraphBuilder {
  const g = new GraphBuilder('mirage-dup').input('x', 'float32', dims);
  g.node('Concat', ['x', 'x'], ['xx'], { axis: 0 });
  return g.output('xx', 'float32', [2 * dims[0], ...dims.slice(1)]);
}

/** [x; 0]: stage B's effnet for [cond; uncond] (the unconditional branch has zero effnet). */
export function padZerosGraph(dims: number[]): GraphBuilder {
  const g = new GraphBuilder('mirage-pad-zeros').input('x', 'float32', dims);
  const zeros = g.op('Expand', [g.floats([0], [], 'zero'), g.int64s(dims, 'shape')]);
  g.node('Concat', ['x', zeros], ['xz'], { axis: 0 });
  return g.output('xz', 'float32', [2 * dims[0], ...dims.slice(1)]);
}

/** gdf.diffuse of one latent [1, ...] to N candidates: a·latent + b·noise, coef = [a, b]. */
export function diffuseGraph(rowDims: number[], batch: number): GraphBuilder {
  const g = new GraphBuilder('mirage-diffuse')
    .input('latent', 'float32', [1, ...rowDims])
    .input('noise', 'float32', [batch, ...rowDims])
    .input('coef', 'float32', [2]);
  const a = g.op('Gather', ['coef', g.int64s([0], 'i')], { axis: 0 });
  const b = g.op('Gather', ['coef', g.int64s([1], 'i')], { axis: 0 });
  g.node('Add', [g.op('Mul', [a, 'latent']), g.op('Mul', [b, 'noise'])], ['x']);
  return g.output('x', 'float32', [batch, ...rowDims]);
}

/**
 * Splits [N, ...] into tensors of `rowsPer` rows (the last may have fewer): `row_k` holds rows
 * k·rowsPer .. (k+1)·rowsPer − 1 (one pixel-decoder run per chunk of candidates).
 */
export function splitRowsGraph(rowDims: number[], batch: number, rowsPer = 1): GraphBuilder {
  const g = new GraphBuilder('mirage-split-rows').input('x', 'float32', [batch, ...rowDims]);
  const chunks = Math.ceil(batch / rowsPer);
  const outs = Array.from({ length: chunks }, (_, k) => `row_${k}`);
  // One Slice per chunk, not one Split: WebGPU binds every output of a node as a storage buffer and
  // allows 8 per compute stage, so a Split into MIRAGE's 16 candidates fails validation (and the
  // chain's results go silently wrong) where 3 candidates happened to fit.
  if (chunks === 1) g.node('Identity', ['x'], outs);
  else outs.forEach((o, k) => g.node('Slice', ['x', g.int64s([k * rowsPer], `start_${k}`), g.int64s([Math.min(batch, (k + 1) * rowsPer)], `end_${k}`), g.int64s([0], 'axis0')], [o]));
  outs.forEach((o, k) => g.output(o, 'float32', [Math.min(batch, (k + 1) * rowsPer) - k * rowsPer, ...rowDims]));
  return g;
}

/**
 * MIRAGE's retrieval score of each of `batch` candidates: every token of the encoder's hidden
 * states L2-normalised, cosine of each candidate's flattened tokens to the (already normalised)
 * target. `batch` floats leave the GPU instead of the tokens.
 */
export function cosineScoreGraph(tokens: number, dim: number, batch = 1): GraphBuilder {
  const g = new GraphBuilder('mirage-retrieval-score').input('h', 'float32', [batch, tokens, dim]).input('target', 'float32', [1, tokens, dim]);
  const ss = g.op('ReduceSum', [g.op('Mul', ['h', 'h']), g.int64s([-1], 'axes')], { keepdims: 1 });
  // normalizeTokens: h / |h| per token (0 for a zero token: h is 0 there and the floor keeps it so).
  // Clip(x, tiny) = Max(x, tiny); WebGPU's EP runs Clip but leaves Max on the CPU (a round trip).
  const tiny = g.floats([1e-30], [], 'tiny');
  const hn = g.op('Div', ['h', g.op('Clip', [g.op('Sqrt', [ss]), tiny])]);
  const perRow = g.int64s([1, 2], 'rowAxes');
  const ab = g.op('ReduceSum', [g.op('Mul', [hn, 'target']), perRow], { keepdims: 0 });
  const aa = g.op('ReduceSum', [g.op('Mul', [hn, hn]), perRow], { keepdims: 0 });
  const bb = g.op('ReduceSum', [g.op('Mul', ['target', 'target'])], { keepdims: 0 });
  const den = g.op('Clip', [g.op('Sqrt', [g.op('Mul', [aa, bb])]), tiny]);
  g.node('Div', [ab, den], ['score']);
  return g.output('score', 'float32', [batch]);
}

/** The last position's logits [1, 1, V] of [1, seq, V]: what greedy decoding needs of a step. */
export function lastPositionGraph(vocab: number): GraphBuilder {
  const g = new GraphBuilder('mirage-last-position').input('logits', 'float32', [1, 'seq', vocab]);
  g.node('Slice', ['logits', g.int64s([-1], 'starts'), g.int64s([2 ** 31 - 1], 'ends'), g.int64s([1], 'axes')], ['last']);
  return g.output('last', 'float32', [1, 1, vocab]);
}

/** Copies a CPU tensor onto the device (an upload, reused by later runs). */
export function uploadGraph(dtype: 'float32', dims: number[]): GraphBuilder {
  const g = new GraphBuilder('mirage-upload').input('x', dtype, dims);
  g.node('Identity', ['x'], ['y']);
  return g.output('y', dtype, dims);
}

/**
 * The step graphs' sessions, created once per (graph, shapes, placement) and reused by every step
 * and every reconstruction. On WebGPU every output stays on the device ('gpu-buffer'); a graph
 * WebGPU cannot run moves to wasm for good (its inputs are then downloaded, counted).
 */
export class StepGraphs {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly wasmOnly = new Set<string>();

  private session(key: string, onGpu: boolean, build: () => GraphBuilder): Promise<OrtSession> {
    const k = `${onGpu ? 'gpu' : 'wasm'}:${key}`;
    let s = this.sessions.get(k);
    if (!s) {
      s = createSession(build().toBytes(), onGpu ? { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' } : { executionProviders: ['wasm'] });
      s.catch(() => this.sessions.delete(k));
      this.sessions.set(k, s);
    }
    return s;
  }

  /** Runs graph `key` (built by `build` on first use) on the GPU (onGpu) or wasm; outputs by name. */
  async run(
    key: string,
    onGpu: boolean,
    build: () => GraphBuilder,
    feeds: Record<string, ort.Tensor>,
    io: Transfers,
    opts: { label?: (input: string) => string; helper?: boolean } = {},
  ): Promise<Record<string, ort.Tensor>> {
    const gpu = onGpu && !this.wasmOnly.has(key);
    const label = opts.label ?? ((name: string) => `step:${key.split('|')[0]}/${name}`);
    const placed: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) placed[name] = await io.feed(t, gpu, label(name));
    if (!opts.helper) io.stats.stepGraphRuns++;
    try {
      return await (await this.session(key, gpu, build)).run(placed);
    } catch (e) {
      if (!gpu) throw e;
      this.wasmOnly.add(key);
      const cpu: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(placed)) cpu[name] = await io.feed(t, false, label(name));
      return (await this.session(key, false, build)).run(cpu);
    }
  }

  /** A copy of CPU values on the device (gpu; one upload, counted under `label`) or a CPU tensor (wasm). */
  async upload(data: Float32Array, dims: number[], onGpu: boolean, io: Transfers, label: string): Promise<ort.Tensor> {
    const t = new ort.Tensor('float32', data, dims);
    if (!onGpu) return t;
    return (await this.run(`upload|${dims.join('x')}`, true, () => uploadGraph('float32', dims), { x: t }, io, { label: () => label, helper: true })).y;
  }

  async dispose(): Promise<void> {
    await releaseSessions(this.sessions);
  }
}

// ---------------------------------------------------------------------------------------------
// The sampler over tensors: sampler.ts's `sample` with its loop body in step graphs.

/** A denoiser over runtime tensors ([rows, ...latent]); may return a GPU tensor the caller then owns. */
export interface TensorDenoiser {
  predict(x: ort.Tensor, r: number, rows: number, guided: boolean): Promise<ort.Tensor>;
}

/** sampler.ts's SamplerSchedule with the latent as runtime tensors and where the step graphs run. */
export interface GraphSampleOptions extends SamplerSchedule {
  rowDims: number[];
  /** Starting point [batch, ...rowDims] (not disposed here); default seeded N(0, I), uploaded once. */
  xInit?: ort.Tensor;
  onStep?: (step: number, total: number) => void;
  /** Where the step graphs run (where the denoiser runs, so the loop needs no transfer). */
  onGpu: boolean;
  graphs: StepGraphs;
  io: Transfers;
}

/**
 * Same algorithm, schedule and noise as sampler.ts `sample`; the guidance and update run as step
 * graphs so that x, [x; x] and the prediction stay where the denoiser runs. Per step only the noise
 * z (seeded, made in TypeScript), r and the 7 step scalars are uploaded; nothing is downloaded.
 * Returns the final x ([batch, ...rowDims]; the caller owns it).
 */
export async function sampleOnGraphs(model: TensorDenoiser, o: GraphSampleOptions): Promise<ort.Tensor> {
  const { rowDims, batch, steps, stream, graphs, io, onGpu } = o;
  const latentSize = n(rowDims);
  const dims = [batch, ...rowDims];
  const cfgRho = o.cfgRho ?? 0.7;
  const guided = o.cfg !== null;
  const plan = samplerSteps(o);
  let x = o.xInit ?? (await graphs.upload(initNoise(o, latentSize), dims, onGpu, io, `${stream}/x_init`));
  if (n([...x.dims]) !== batch * latentSize) throw new RangeError(`sample(${stream}): xInit has ${x.size} values, expected ${batch}x${latentSize}`);
  const dimKey = dims.join('x');
  let xx: ort.Tensor | null = null;
  if (guided && steps > 0) xx = (await graphs.run(`dup|${dimKey}`, onGpu, () => dupGraph(dims), { x }, io)).xx;
  const owned = (t: ort.Tensor) => t !== o.xInit;
  try {
    for (let i = 0; i < steps; i++) {
      if (o.signal?.aborted) throw new AbortError();
      const { r, k } = plan[i];
      const pred = await model.predict(guided ? (xx as ort.Tensor) : x, r, guided ? 2 * batch : batch, guided);
      if (pred.size !== (guided ? 2 : 1) * batch * latentSize) throw new RangeError(`sample(${stream}): denoiser returned ${pred.size} values, expected ${(guided ? 2 : 1) * batch * latentSize}`);
      if (o.signal?.aborted) {
        io.release(pred);
        throw new AbortError();
      }
      const spec: DdpmGraphSpec = { rowDims, batch, guided, rho: guided && cfgRho > 0, noise: k.sigma > 0, dup: guided && i + 1 < steps };
      const feeds: Record<string, ort.Tensor> = {
        pred,
        x,
        coef: new ort.Tensor('float32', stepCoefficients(o.cfg, cfgRho, k), [STEP_COEFS.length]),
      };
      if (spec.noise) feeds.z = new ort.Tensor('float32', stepNoise(o, latentSize, i), dims);
      const key = `ddpm|${dimKey}|${+spec.guided}${+spec.rho}${+spec.noise}${+spec.dup}`;
      const out = await graphs.run(key, onGpu, () => ddpmStepGraph(spec), feeds, io);
      io.release(pred);
      if (owned(x)) io.release(x);
      if (xx) io.release(xx);
      x = out.x_next;
      xx = out.xx_next ?? null;
      o.onStep?.(i + 1, steps);
    }
  } catch (e) {
    if (owned(x)) io.release(x);
    if (xx) io.release(xx);
    throw e;
  }
  if (xx) io.release(xx);
  return x;
}

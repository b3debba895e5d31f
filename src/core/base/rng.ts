// The project's one home for seeded pseudo-random numbers (never Math.random): every draw that a
// result depends on is reproducible from a seed written next to it. Two generators live here, on
// purpose, because callers rely on their exact streams (fixtures and parity tests compare bytes):
//
//  - mulberry32 (32-bit state): the simulation (`Rng`, with labelled `fork`/`streamFor` so adding
//    draws in one part never shifts another), evaluation's sampling (`mulberry32`, retrieval
//    candidates, 2AFC order) and the synthetic test data.
//  - xoshiro128** seeded through splitmix32 (`NoiseRng`): the diffusion noise of reconstruction.
//    Each (seed, candidate, stream) triple gets its own generator, so candidate k of a batch of N
//    equals candidate k of any other batch size, on every ONNX backend (the runtimes' own random
//    ops differ between execution providers, so noise is never drawn by them).
//
// Both draw standard normals by Box–Muller using both values of each pair (`PairedNormals`).

/** A uniform source in [0, 1). */
export type Uniform = () => number;

/** One mulberry32 step: the next state and its 32-bit output. */
function mulberry32Step(state: number): { state: number; out: number } {
  const s = (state + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { state: s, out: (t ^ (t >>> 14)) >>> 0 };
}

/** mulberry32 as 32-bit unsigned words (for callers that map words to (0, 1) themselves). */
export function mulberry32Words(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    const r = mulberry32Step(s);
    s = r.state;
    return r.out;
  };
}

/** mulberry32: uniform in [0, 1) (the word / 2^32). */
export function mulberry32(seed: number): Uniform {
  const words = mulberry32Words(seed);
  return () => words() / 4294967296;
}

/**
 * Standard normals by Box–Muller, both values of each pair used (cos first, then the spare sin).
 * Subclasses say how the pair's two uniforms are drawn (the first must never be 0: it goes to log).
 */
abstract class PairedNormals {
  private spare: number | null = null;
  protected abstract firstUniform(): number;
  protected abstract secondUniform(): number;

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u = this.firstUniform();
    const v = this.secondUniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** The simulation's generator: mulberry32 uniforms, Box–Muller normals, labelled forks. */
export class Rng extends PairedNormals {
  private s: number;

  constructor(seed: number) {
    super();
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    const r = mulberry32Step(this.s);
    this.s = r.state;
    return r.out / 4294967296;
  }

  protected firstUniform(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return u;
  }

  protected secondUniform(): number {
    return this.next();
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  normals(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }

  /** Fisher–Yates shuffle of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** An independent stream derived from this generator's current state and a label. */
  fork(label: string): Rng {
    return new Rng(hashSeed(this.s, label));
  }
}

/** FNV-1a of a label mixed with a seed, then finalised: stable stream ids for `fork`/`streamFor`. */
export function hashSeed(seed: number, label: string): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  h ^= h >>> 13;
  h = Math.imul(h, 0x5bd1e995) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** A root stream for a named part of the simulation (independent of call order elsewhere). */
export function streamFor(seed: number, label: string): Rng {
  return new Rng(hashSeed(seed, label));
}

/**
 * k distinct indices from [0, n) (partial Fisher–Yates), like np.random.choice(n, k, replace=False).
 */
export function sampleWithoutReplacement(n: number, k: number, rng: Uniform): number[] {
  if (k > n) throw new RangeError(`cannot draw ${k} of ${n} without replacement`);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k);
}

/** splitmix32: spreads a 32-bit state into well-mixed words (used to seed xoshiro). */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Plain FNV-1a of a string: a stable 32-bit id for a noise stream name (no seed, no finaliser). */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Reconstruction noise: xoshiro128** per (seed, candidate, stream), Box–Muller normals. */
export class NoiseRng extends PairedNormals {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`, `candidate` and `stream` are combined; any 32-bit integers. */
  constructor(seed: number, candidate = 0, stream = 0) {
    super();
    const st = { s: (seed | 0) ^ Math.imul(candidate | 0, 0x27d4eb2f) ^ Math.imul(stream | 0, 0x165667b1) };
    // Three rounds of mixing so nearby seeds do not give correlated starts.
    st.s = splitmix32(st) ^ splitmix32(st);
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** xoshiro128**: next 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in (0, 1): 53 bits from two words, never exactly 0 (safe for log). */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  protected firstUniform(): number {
    return this.uniform();
  }

  protected secondUniform(): number {
    return this.uniform();
  }

  fillNormal(out: Float32Array, offset = 0, length = out.length - offset): Float32Array {
    for (let i = 0; i < length; i++) out[offset + i] = this.normal();
    return out;
  }
}

/**
 * Standard-normal noise for a batch: row k (of `perRow` values) comes from NoiseRng(seed + k, …,
 * stream) — candidate k's noise depends only on (seed + k, stream), never on the batch size.
 */
export function batchNoise(seed: number, batch: number, perRow: number, stream: string): Float32Array {
  const out = new Float32Array(batch * perRow);
  const sid = streamId(stream);
  for (let k = 0; k < batch; k++) new NoiseRng(seed + k, 0, sid).fillNormal(out, k * perRow, perRow);
  return out;
}

/**
 * Uniform draws in [low, high] for a batch, laid out as batchNoise: row k from NoiseRng(seed + k, 0,
 * stream), so a row's draws never depend on the batch size (e.g. VDVAE's mixture-of-logistics draws).
 */
export function batchUniform(seed: number, batch: number, perRow: number, stream: string, low = 0, high = 1): Float32Array {
  const out = new Float32Array(batch * perRow);
  const sid = streamId(stream);
  for (let k = 0; k < batch; k++) {
    const rng = new NoiseRng(seed + k, 0, sid);
    for (let i = 0; i < perRow; i++) out[k * perRow + i] = low + (high - low) * rng.uniform();
  }
  return out;
}

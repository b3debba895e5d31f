// Seeded Gaussian noise that is the same for a seed on every backend: generated here in
// TypeScript (xoshiro128** seeded through splitmix32, Box-Muller), never by the ONNX runtime, whose
// random ops differ between execution providers. Each (seed, candidate, stream) triple gets its own
// generator, so candidate k of a batch of N equals candidate k of any other batch size.

/** splitmix32: spreads a 32-bit state into well-mixed words (used to seed xoshiro). */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a of a string: a stable 32-bit id for a noise stream name. */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  /** `seed`, `candidate` and `stream` are combined; any 32-bit integers. */
  constructor(seed: number, candidate = 0, stream = 0) {
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

  /** Standard normal by Box-Muller (both values of each pair are used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  fillNormal(out: Float32Array, offset = 0, length = out.length - offset): Float32Array {
    for (let i = 0; i < length; i++) out[offset + i] = this.normal();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Standard-normal noise for a batch: row k (of `perRow` values) comes from Rng(seed + k, …, stream)
 * — candidate k's noise depends only on (seed + k, stream), never on the batch size.
 */
export function batchNoise(seed: number, batch: number, perRow: number, stream: string): Float32Array {
  const out = new Float32Array(batch * perRow);
  const sid = streamId(stream);
  for (let k = 0; k < batch; k++) new Rng(seed + k, 0, sid).fillNormal(out, k * perRow, perRow);
  return out;
}

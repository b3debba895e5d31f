// The one check every reader runs on numbers entering the project (NIfTI and HDF5 betas, .npy
// inputs of `ridge fit`, MIRAGE weight pickles, reconstruction tensors): a NaN or an infinity that
// slips in silently becomes all-NaN decoder heads or black images later, far from its cause, so it
// is refused where it enters, naming the file, the tensor and the first bad element.
import { BundleError } from '../base/errors.ts';

export interface FiniteOptions {
  /** Shape of the whole tensor (C order), to report the bad element as (i, j, ...). */
  shape?: readonly number[];
  /** Flat index of `values[0]` within the whole tensor, when `values` is a block of rows. */
  offset?: number;
  /** Inclusive bounds the values must also lie in (e.g. [0, 1] for images). */
  range?: readonly [number, number];
  /** What the values are, for the message (default "finite numbers"). */
  expected?: string;
  /** What one element is called in the message (default "value"; e.g. "beta", "pixel"). */
  noun?: string;
}

/** Float image pixels must lie in [0, 1]; the slack absorbs float16/bfloat16 rounding of a clamped 1.0. */
export const UNIT_PIXEL_RANGE: readonly [number, number] = [-1e-3, 1 + 1e-3];

/** The flat index `i` of a C-order tensor of `shape` as "(i0, i1, ...)"; "[i]" without a shape. */
export function formatIndex(i: number, shape?: readonly number[]): string {
  if (!shape || shape.length === 0) return `[${i}]`;
  const idx = new Array<number>(shape.length);
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = Math.max(1, shape[d]);
    idx[d] = rest % n;
    rest = Math.floor(rest / n);
  }
  return `(${idx.join(', ')})`;
}

/** Index of the first element that is not finite (or outside `range`); -1 when all are good. */
export function firstBadIndex(values: ArrayLike<number>, range?: readonly [number, number]): number {
  const n = values.length;
  if (range) {
    const [lo, hi] = range;
    // `!(v >= lo && v <= hi)` is also true for NaN, so one comparison pair covers both cases.
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!(v >= lo && v <= hi)) return i;
    }
    return -1;
  }
  for (let i = 0; i < n; i++) {
    // v - v is 0 for finite v and NaN for NaN and ±Infinity: cheaper than Number.isFinite per call.
    const v = values[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Throws a BundleError naming `file`, `tensor` and the first element that is NaN, infinite or outside
 * `opts.range`. Integer typed arrays are always finite and are skipped unless a range is given.
 */
export function assertFinite(file: string, tensor: string, values: ArrayLike<number>, opts: FiniteOptions = {}): void {
  if (!opts.range && (values instanceof Uint8Array || values instanceof Int8Array || values instanceof Int16Array || values instanceof Uint16Array || values instanceof Int32Array || values instanceof Uint32Array)) return;
  const i = firstBadIndex(values, opts.range);
  if (i < 0) return;
  const v = values[i];
  const at = formatIndex((opts.offset ?? 0) + i, opts.shape);
  const noun = opts.noun ?? 'value';
  const message = Number.isFinite(v) ? `${noun} ${v} at element ${at} is out of range; refused` : `non-finite ${noun} (${v}) at element ${at}; refused`;
  const expected = opts.expected ?? (opts.range ? `finite numbers in [${opts.range[0]}, ${opts.range[1]}]` : 'finite numbers');
  throw new BundleError(file, message, { field: tensor, expected });
}

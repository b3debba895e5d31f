// NumPy .npy read/write (format 1.0, 2.0 and 3.0 headers), little-endian, C order. Written here
// rather than pulled from a package because we need exactly this small subset, typed-array views
// without copies where alignment allows, and errors that name the file and the header field
// (BundleError) so `mirage ridge fit --betas X.npy` can say what is wrong with X.npy.
// Spec: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { BundleError } from '../base/errors.ts';
import { decodeFloat16, encodeFloat16 } from './float16.ts';
import { asTyped, bytesOf, type PlainTypedCtor } from './typed.ts';

/** The numpy dtype descriptors we read and write (numpy writes '|' for one-byte types). */
export const NPY_DTYPES = ['<f2', '<f4', '<f8', '<i2', '<i4', '<i8', '|u1', '|i1', '<u2', '<u4', '|b1'] as const;
export type NpyDtype = (typeof NPY_DTYPES)[number];

export type NpyData =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

export interface NpyArray {
  /** The numpy descriptor, normalised: '<f4', '|u1', ... */
  dtype: NpyDtype;
  shape: number[];
  /**
   * C-order values. '<f2' is decoded to Float32Array (Uint16Array bits with `float16: 'raw'`);
   * '<i8' is returned as Float64Array (exact; values beyond ±2^53 are refused); '|b1' as Uint8Array 0/1.
   * May be a view on the input bytes (no copy) when the data happens to be aligned.
   */
  data: NpyData;
  fortranOrder: false;
}

/**
 * The dtypes stored as one typed array's bytes, viewed in place on read and written as-is. The
 * order matters for defaultNpyDtype: the first entry a typed array is an instance of wins
 * (Uint8Array -> '|u1', not '|b1'). '<f2' and '<i8' need conversion and are not here.
 */
const NPY_TYPED: Partial<Record<NpyDtype, PlainTypedCtor>> = {
  '<f4': Float32Array,
  '<f8': Float64Array,
  '<i4': Int32Array,
  '<i2': Int16Array,
  '|i1': Int8Array,
  '|u1': Uint8Array,
  '|b1': Uint8Array,
  '<u2': Uint16Array,
  '<u4': Uint32Array,
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const ALIGN = 64; // numpy pads the preamble to 64 bytes so the data can be memory-mapped
const GROWTH_AXIS_MAX_DIGITS = 21; // numpy leaves this much room to grow the first axis in place

const ITEM_SIZE: Record<NpyDtype, number> = {
  '<f2': 2,
  '<f4': 4,
  '<f8': 8,
  '<i2': 2,
  '<i4': 4,
  '<i8': 8,
  '|u1': 1,
  '|i1': 1,
  '<u2': 2,
  '<u4': 4,
  '|b1': 1,
};

/** Maps the spellings numpy may use for a little-endian / byte-order-free type onto ours. */
function normaliseDescr(descr: string): NpyDtype | null {
  if (descr.length < 2) return null;
  const order = descr[0];
  const type = descr.slice(1);
  const oneByte = type === 'u1' || type === 'i1' || type === 'b1';
  if (oneByte && (order === '|' || order === '<' || order === '>' || order === '=')) return `|${type}` as NpyDtype;
  if (order !== '<') return null;
  const d = `<${type}`;
  return (NPY_DTYPES as readonly string[]).includes(d) ? (d as NpyDtype) : null;
}

function headerField(header: string, key: string): string | null {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) return null;
  const rest = header.slice(m.index + m[0].length);
  if (key === 'shape') {
    const t = /^\(([^)]*)\)/.exec(rest);
    return t ? t[1] : null;
  }
  if (key === 'descr') {
    const s = /^(['"])(.*?)\1/.exec(rest);
    return s ? s[2] : rest.startsWith('[') ? '[structured]' : null;
  }
  const w = /^(True|False)/.exec(rest);
  return w ? w[1] : null;
}

export interface ReadNpyOptions {
  /** 'decode' (default): float16 becomes Float32Array. 'raw': keep the Uint16Array bits. */
  float16?: 'decode' | 'raw';
}

/** Parses a .npy file. `file` names it in errors. */
export function readNpy(bytes: Uint8Array, file = 'array.npy', opts: ReadNpyOptions = {}): NpyArray {
  const fail = (field: string, message: string, expected?: string): never => {
    throw new BundleError(file, message, { field, expected });
  };
  if (bytes.byteLength < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('magic', 'not a NumPy .npy file', 'the bytes "\\x93NUMPY" at the start');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) fail('header', 'file ends inside the header length');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail('version', `unsupported .npy format version ${major}.${bytes[7]}`, 'version 1.0, 2.0 or 3.0');
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.byteLength) fail('header', `header length ${headerLen} runs past the end of the file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = headerField(header, 'descr');
  if (descr === null) fail('header.descr', 'missing dtype descriptor', "a dict with 'descr', 'fortran_order', 'shape'");
  const dtype = normaliseDescr(descr!);
  if (!dtype) {
    const bigEndian = descr!.startsWith('>');
    fail(
      'header.descr',
      bigEndian ? `big-endian dtype '${descr}' is not supported` : `unsupported dtype '${descr}'`,
      `little-endian ${NPY_DTYPES.join(', ')} (save with arr.astype('<f4') etc.)`,
    );
  }
  const fortran = headerField(header, 'fortran_order');
  if (fortran === null) fail('header.fortran_order', 'missing', 'True or False');
  if (fortran === 'True') {
    fail('header.fortran_order', 'Fortran-order arrays are not supported', 'C order (save np.ascontiguousarray(arr))');
  }
  const shapeText = headerField(header, 'shape');
  if (shapeText === null) fail('header.shape', 'missing or unreadable', 'a tuple of non-negative integers');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : NaN));
  if (shape.some((d) => !Number.isSafeInteger(d))) {
    fail('header.shape', `unreadable shape (${shapeText})`, 'a tuple of non-negative integers');
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const item = ITEM_SIZE[dtype!];
  const need = count * item;
  if (bytes.byteLength - dataStart < need) {
    fail(
      'data',
      `holds ${bytes.byteLength - dataStart} bytes of data`,
      `${need} bytes for shape (${shape.join(', ')}) of ${dtype}`,
    );
  }
  const raw = typedView(bytes, dataStart, count, item);
  const View = NPY_TYPED[dtype!];
  let data: NpyData;
  if (View) {
    data = new View(raw.buffer, raw.byteOffset, count);
  } else if (dtype === '<f2') {
    const bits = new Uint16Array(raw.buffer, raw.byteOffset, count);
    data = opts.float16 === 'raw' ? bits : decodeFloat16(bits);
  } else {
    // '<i8': exact as float64 within ±2^53, refused beyond.
    const big = new BigInt64Array(raw.buffer, raw.byteOffset, count);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const v = big[i];
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        fail('data', `int64 value ${v} at index ${i} cannot be represented exactly`, 'values within ±2^53');
      }
      out[i] = Number(v);
    }
    data = out;
  }
  return { dtype: dtype!, shape, data: data!, fortranOrder: false };
}

/** The data bytes, viewed in place when aligned for the element size, copied otherwise. */
function typedView(bytes: Uint8Array, start: number, count: number, item: number): Uint8Array {
  const sub = bytes.subarray(start, start + count * item);
  return sub.byteOffset % item === 0 ? sub : sub.slice();
}

/** The dtype writeNpy uses when none is given. */
export function defaultNpyDtype(data: NpyData | ArrayLike<number>): NpyDtype {
  for (const [dtype, View] of Object.entries(NPY_TYPED) as [NpyDtype, PlainTypedCtor][]) {
    if (data instanceof View) return dtype;
  }
  return '<f8';
}

function encodeAs(data: ArrayLike<number>, dtype: NpyDtype): Uint8Array {
  const View = NPY_TYPED[dtype];
  if (View) return bytesOf(asTyped(data, View));
  // A Uint16Array is taken as float16 bits already (what readNpy(..., { float16: 'raw' }) gives).
  if (dtype === '<f2') return bytesOf(data instanceof Uint16Array ? data : encodeFloat16(data));
  // '<i8'
  const out = new BigInt64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v)) throw new RangeError(`writeNpy: value ${v} at index ${i} is not an integer (dtype <i8)`);
    out[i] = BigInt(v);
  }
  return bytesOf(out);
}

/** Python's repr of a shape tuple: (), (3,), (2, 3). */
function shapeRepr(shape: number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/**
 * Encodes an array as .npy, byte for byte as numpy.save writes it (version 1.0, or 2.0 when the
 * header does not fit in 64 KiB). `dtype` defaults to the typed array's own type.
 */
export function writeNpy(data: NpyData | ArrayLike<number>, shape: number[], dtype?: NpyDtype): Uint8Array {
  const d = dtype ?? defaultNpyDtype(data);
  if (!(NPY_DTYPES as readonly string[]).includes(d)) throw new RangeError(`writeNpy: unsupported dtype ${d}`);
  if (shape.some((s) => !Number.isSafeInteger(s) || s < 0)) throw new RangeError(`writeNpy: bad shape [${shape}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`writeNpy: ${data.length} values for shape (${shape.join(', ')}) (${count})`);
  }
  let header = `{'descr': '${d}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const body = encodeAs(data, d);
  for (const version of [1, 2]) {
    const lenBytes = version === 1 ? 2 : 4;
    const hlen = header.length + 1; // + '\n'
    const pad = ALIGN - ((MAGIC.length + 2 + lenBytes + hlen) % ALIGN);
    const total = hlen + pad;
    if (version === 1 && total > 0xffff) continue;
    const pre = MAGIC.length + 2 + lenBytes;
    const out = new Uint8Array(pre + total + body.byteLength);
    out.set(MAGIC, 0);
    out[6] = version;
    out[7] = 0;
    const view = new DataView(out.buffer);
    if (version === 1) view.setUint16(8, total, true);
    else view.setUint32(8, total, true);
    const text = header + ' '.repeat(pad) + '\n';
    for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
    out.set(body, pre + total);
    return out;
  }
  throw new RangeError('writeNpy: header too large');
}

// safetensors files (Hugging Face's weight format: model.safetensors, Stable Cascade's stage_*.safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<tensor>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}},
// then the data, offsets relative to its start. Nothing in the file is trusted: the header length,
// every shape and offset is checked against the file's size before any tensor is read, so a
// truncated download or a hostile header fails with the file and the tensor named, and a tensor's
// values are read only when asked for (a 1.7 GB checkpoint is never held whole).
// Spec: https://github.com/huggingface/safetensors (README, "Format").
import { readExactly, sourceName, type ByteSource } from './byteSource.ts';
import { FormatError } from './errors.ts';
import { decodeFloat16, encodeFloat16 } from '../tensor/float16.ts';

/** Bytes per element of each dtype the format defines. */
export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
/** The dtypes read as floats here (weights): float32, float16 and bfloat16. */
export type SafetensorsFloat = 'F32' | 'F16' | 'BF16';
const FLOATS: readonly string[] = ['F32', 'F16', 'BF16'];

/** The reference implementation refuses headers above 100 MB; so do we (a hostile N cannot make us allocate more). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafeTensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  file: string;
  source: ByteSource;
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensorInfo>;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Reads and checks the header; tensor data stays in the source until read. */
export async function openSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  const file = sourceName(src);
  if (src.size < 8) throw new FormatError(file, `file has ${src.size} bytes`, { field: 'header length', expected: 'a safetensors file (8-byte header length, JSON header, data)' });
  const lenBytes = await readExactly(src, 0, 8, 'header length');
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new FormatError(file, `header length ${n}`, { field: 'header length', expected: `at most ${MAX_HEADER_BYTES} bytes (is this a safetensors file?)` });
  const headerLen = Number(n);
  if (8 + headerLen > src.size) {
    throw new FormatError(file, `header length ${headerLen} runs past the end of the file (${src.size} bytes; truncated?)`, { field: 'header length', expected: `at most ${src.size - 8}` });
  }
  const raw = await readExactly(src, 8, headerLen, 'header');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    throw new FormatError(file, 'header is not valid UTF-8 JSON', { field: 'header', expected: 'a JSON object', cause: e });
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(file, 'header is not a JSON object', { field: 'header', expected: '{"<tensor>": {dtype, shape, data_offsets}, ...}' });
  const dataStart = 8 + headerLen;
  const dataLen = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensorInfo>();
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
        throw new FormatError(file, '__metadata__ is not a map of strings', { field: '__metadata__', expected: '{"key": "value", ...}' });
      }
      Object.assign(metadata, v);
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    const field = `tensor ${name}`;
    if (!e || typeof e !== 'object') throw new FormatError(file, 'entry is not an object', { field, expected: '{dtype, shape, data_offsets}' });
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_BYTES)) {
      throw new FormatError(file, `dtype ${JSON.stringify(dtype)}`, { field: `${field}.dtype`, expected: Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ') });
    }
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw new FormatError(file, `shape ${JSON.stringify(e.shape)}`, { field: `${field}.shape`, expected: 'an array of non-negative integers' });
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount) || off[0] > off[1]) {
      throw new FormatError(file, `data_offsets ${JSON.stringify(off)}`, { field: `${field}.data_offsets`, expected: '[begin, end] with 0 <= begin <= end' });
    }
    const shape = e.shape as number[];
    const numel = shape.reduce((a, b) => a * b, 1);
    const bytes = numel * SAFETENSORS_DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(bytes) || off[1] - off[0] !== bytes) {
      throw new FormatError(file, `data_offsets [${off[0]}, ${off[1]}] hold ${off[1] - off[0]} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${bytes}`, { field: `${field}.data_offsets`, expected: `${bytes} bytes` });
    }
    if (off[1] > dataLen) {
      throw new FormatError(file, `data ends at byte ${dataStart + off[1]}, the file has ${src.size} (truncated?)`, { field: `${field}.data_offsets`, expected: `offsets within the ${dataLen} data bytes` });
    }
    tensors.set(name, { name, dtype, shape, begin: dataStart + off[0], end: dataStart + off[1] });
  }
  // Tensors must not share bytes (the reference writer lays them out back to back).
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new FormatError(file, `data overlaps tensor ${sorted[i - 1].name}`, { field: `tensor ${sorted[i].name}.data_offsets`, expected: 'non-overlapping byte ranges' });
    }
  }
  return { file, source: src, metadata, tensors };
}

/** A tensor's values as float32 (from F32, F16 or BF16; what model weights come in). */
export async function readSafetensorFloat32(f: SafetensorsFile, name: string): Promise<Float32Array> {
  const t = f.tensors.get(name);
  if (!t) throw new FormatError(f.file, 'no such tensor', { field: `tensor ${name}` });
  if (!FLOATS.includes(t.dtype)) throw new FormatError(f.file, `dtype ${t.dtype}`, { field: `tensor ${name}.dtype`, expected: 'F32, F16 or BF16 weights' });
  const raw = await readExactly(f.source, t.begin, t.end - t.begin, `tensor ${name}`);
  return decodeFloats(raw, t.dtype as SafetensorsFloat);
}

function decodeFloats(raw: Uint8Array, dtype: SafetensorsFloat): Float32Array {
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  if (dtype === 'F32') return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  if (dtype === 'F16') return decodeFloat16(halves);
  // bfloat16 is the top half of a float32.
  const bits = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  return new Float32Array(bits.buffer);
}

function encodeFloats(data: Float32Array, dtype: SafetensorsFloat): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint16Array(data.length);
  if (dtype === 'BF16') {
    // Round to nearest even, as torch's .to(torch.bfloat16) does.
    const bits = new Uint32Array(Float32Array.from(data).buffer);
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i];
      out[i] = (b >>> 16) + ((b & 0xffff) > 0x8000 || ((b & 0xffff) === 0x8000 && (b >>> 16) & 1) ? 1 : 0);
    }
  } else out.set(encodeFloat16(data));
  return new Uint8Array(out.buffer);
}

/** Writes a safetensors file as the reference writer lays it out (header padded to 8 bytes, tensors back to back in the given order). */
export function encodeSafetensors(tensors: { name: string; dtype: SafetensorsFloat; shape: number[]; data: Float32Array }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const bodies: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    const b = encodeFloats(t.data, t.dtype);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + b.byteLength] };
    bodies.push(b);
    at += b.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const hb = new Uint8Array(text.byteLength + ((8 - (text.byteLength % 8)) % 8)).fill(0x20); // space padding, as the reference writer
  hb.set(text);
  const out = new Uint8Array(8 + hb.byteLength + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let o = 8 + hb.byteLength;
  for (const b of bodies) {
    out.set(b, o);
    o += b.byteLength;
  }
  return out;
}

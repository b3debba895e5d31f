// GIfTI surfaces (.surf.gii): XML with one DataArray per array, encoded as ASCII, Base64Binary or
// GZipBase64Binary (zlib). A small tag scanner instead of DOMParser, which Node does not have.
import { unzlibSync } from 'fflate';
import { readAll, sourceName, type ByteSource } from './byteSource.ts';
import { FormatError } from './errors.ts';

export interface GiftiArray {
  intent: string;
  dataType: string;
  dims: number[];
  /** Values in C (row-major) order. */
  data: Float32Array | Int32Array | Uint8Array | Float64Array;
}

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[c.charCodeAt(0)] = i));

export function decodeBase64(s: string): Uint8Array {
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const v = B64[s.charCodeAt(i)];
    if (v < 0) continue; // whitespace and '=' padding
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/(\w+)\s*=\s*"([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/** Most values one GIfTI DataArray may hold (2^26; a 1 mm cortical surface has ~300 k vertices). */
export const MAX_GIFTI_VALUES = 2 ** 26;

export async function readGifti(src: ByteSource): Promise<GiftiArray[]> {
  const file = sourceName(src);
  const xml = new TextDecoder().decode(await readAll(src));
  if (!/<GIFTI[\s>]/.test(xml)) throw new FormatError(file, 'not a GIfTI file', { field: 'GIFTI', expected: 'a <GIFTI> root element' });
  const arrays: GiftiArray[] = [];
  for (const m of xml.matchAll(/<DataArray\b([^>]*)>([\s\S]*?)<\/DataArray>/g)) {
    const a = attrs(m[1]);
    const k = arrays.length;
    const field = `DataArray ${k}`;
    const dimCount = Number(a.Dimensionality ?? 1);
    const dims = Array.from({ length: dimCount }, (_, i) => Number(a[`Dim${i}`]));
    const n = dims.reduce((x, y) => x * y, 1);
    if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0) || n > MAX_GIFTI_VALUES) {
      throw new FormatError(file, `dimensions [${dims}]`, { field, expected: `non-negative integer Dim0.. with at most ${MAX_GIFTI_VALUES} values` });
    }
    const dataMatch = /<Data>([\s\S]*?)<\/Data>/.exec(m[2]) ?? /<Data\/>/.exec(m[2]);
    const text = dataMatch?.[1] ?? '';
    const ctor = { NIFTI_TYPE_FLOAT32: Float32Array, NIFTI_TYPE_INT32: Int32Array, NIFTI_TYPE_UINT8: Uint8Array, NIFTI_TYPE_FLOAT64: Float64Array }[a.DataType];
    if (!ctor) throw new FormatError(file, `unsupported DataType ${a.DataType}`, { field, expected: 'NIFTI_TYPE_FLOAT32, INT32, UINT8 or FLOAT64' });
    let data: GiftiArray['data'];
    if (a.Encoding === 'ASCII') {
      const nums = text.trim().split(/\s+/).filter(Boolean).map(Number);
      data = new ctor(nums);
    } else if (a.Encoding === 'Base64Binary' || a.Encoding === 'GZipBase64Binary') {
      if (a.ExternalFileName) throw new FormatError(file, 'external data files are not supported', { field, expected: 'inline data' });
      let raw = decodeBase64(text);
      if (a.Encoding === 'GZipBase64Binary') {
        try {
          // Inflated into a buffer one byte longer than the dims need: a zlib bomb stops there
          // (fflate fills a given buffer and no further) and fails the size check below.
          raw = unzlibSync(raw, { out: new Uint8Array(n * ctor.BYTES_PER_ELEMENT + 1) });
        } catch (e) {
          throw new FormatError(file, 'compressed data array is corrupt', { field, expected: 'zlib data', cause: e });
        }
      }
      const bpe = ctor.BYTES_PER_ELEMENT;
      if (raw.byteLength !== n * bpe) throw new FormatError(file, `data has ${raw.byteLength} bytes`, { field, expected: `${n * bpe} bytes for dims [${dims}]` });
      const big = a.Endian === 'BigEndian';
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      data = new ctor(n);
      for (let i = 0; i < n; i++) {
        data[i] =
          bpe === 1 ? raw[i]
          : ctor === Int32Array ? dv.getInt32(4 * i, !big)
          : ctor === Float64Array ? dv.getFloat64(8 * i, !big)
          : dv.getFloat32(4 * i, !big);
      }
    } else {
      throw new FormatError(file, `unsupported Encoding ${a.Encoding}`, { field, expected: 'ASCII, Base64Binary or GZipBase64Binary' });
    }
    if (data.length !== n) throw new FormatError(file, `${data.length} values`, { field, expected: `${n} for dims [${dims}]` });
    if (a.ArrayIndexingOrder === 'ColumnMajorOrder' && dims.length === 2) {
      const t = new ctor(n);
      for (let i = 0; i < dims[0]; i++) for (let j = 0; j < dims[1]; j++) t[i * dims[1] + j] = data[j * dims[0] + i];
      data = t;
    }
    arrays.push({ intent: a.Intent ?? 'NIFTI_INTENT_NONE', dataType: a.DataType, dims, data });
  }
  return arrays;
}

/** The POINTSET and TRIANGLE arrays of a GIfTI surface. */
export async function readGiftiSurface(src: ByteSource): Promise<{ vertices: Float32Array; faces: Int32Array; vertexCount: number }> {
  const file = sourceName(src);
  const arrays = await readGifti(src);
  const pts = arrays.find((a) => a.intent === 'NIFTI_INTENT_POINTSET');
  const tri = arrays.find((a) => a.intent === 'NIFTI_INTENT_TRIANGLE');
  if (!pts || !tri) throw new FormatError(file, 'surface needs a POINTSET and a TRIANGLE array', { field: 'DataArray', expected: 'NIFTI_INTENT_POINTSET and NIFTI_INTENT_TRIANGLE' });
  return { vertices: Float32Array.from(pts.data), faces: Int32Array.from(tri.data), vertexCount: pts.dims[0] };
}

// NIfTI-1 and NIfTI-2 reader (.nii or .nii.gz), volume by volume. Written here rather than using
// nifti-reader-js because that library wants the whole (decompressed) file in one ArrayBuffer,
// and NSD's 4-D imagery betas are GBs once inflated; we stream them through fflate instead.
//
// Voxel order: NIfTI stores x fastest (Fortran order). numpy's `vol[mask == 1]` on nibabel's array
// walks (x, y, z) in C order, i.e. z fastest. `maskIndices` returns the disk offsets of the mask's
// voxels in numpy's order, so `selectVoxels` reproduces MIRAGE's voxel order exactly.
import { isGzip, sourceName, SourceReader, type ByteSource, type SequentialReader } from './byteSource.ts';
import { FormatError } from './errors.ts';
import { GunzipReader } from './gzip.ts';

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** Sizes of the used dimensions (dim[1..dim[0]]). */
  shape: number[];
  datatype: number;
  bitpix: number;
  pixdim: number[];
  voxOffset: number;
  /** Scaling as nibabel applies it: 0 or non-finite slope means no scaling. */
  slope: number;
  inter: number;
  qformCode: number;
  sformCode: number;
  /** 4x4 row-major voxel -> world (mm) affine: sform if set, else qform, else pixdim scaling. */
  affine: number[];
}

export const NIFTI_DTYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};

function qformAffine(b: number, c: number, d: number, qx: number, qy: number, qz: number, pix: number[]): number[] {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const n = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= n;
    c *= n;
    d *= n;
    a = 0;
  } else a = Math.sqrt(a);
  const qfac = pix[0] < 0 ? -1 : 1;
  const [dx, dy, dz] = [pix[1] || 1, pix[2] || 1, (pix[3] || 1) * qfac];
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  return [
    R[0][0] * dx, R[0][1] * dy, R[0][2] * dz, qx,
    R[1][0] * dx, R[1][1] * dy, R[1][2] * dz, qy,
    R[2][0] * dx, R[2][1] * dy, R[2][2] * dz, qz,
    0, 0, 0, 1,
  ];
}

/** Parses a NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes) header from the start of the (inflated) file. */
export function parseNiftiHeader(h: Uint8Array, file: string): NiftiHeader {
  if (h.byteLength < 348) throw new FormatError(file, 'too short for a NIfTI header', { expected: '>= 348 bytes' });
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const s1le = dv.getInt32(0, true);
  const s1be = dv.getInt32(0, false);
  let version: 1 | 2;
  let le: boolean;
  if (s1le === 348 || s1be === 348) {
    version = 1;
    le = s1le === 348;
  } else if (s1le === 540 || s1be === 540) {
    version = 2;
    le = s1le === 540;
  } else {
    throw new FormatError(file, `not a NIfTI file (sizeof_hdr = ${s1le})`, { field: 'sizeof_hdr', expected: '348 or 540' });
  }
  if (version === 2 && h.byteLength < 540) throw new FormatError(file, 'NIfTI-2 header is cut short', { expected: '540 bytes' });
  let dims: number[];
  let datatype: number, bitpix: number, pixdim: number[], voxOffset: number, slope: number, inter: number;
  let qformCode: number, sformCode: number, quat: number[], srow: number[];
  if (version === 1) {
    const magic = String.fromCharCode(h[344], h[345], h[346]);
    if (magic !== 'n+1' && magic !== 'ni1') throw new FormatError(file, `bad NIfTI-1 magic "${magic}"`, { field: 'magic', expected: '"n+1" or "ni1"' });
    if (magic === 'ni1') throw new FormatError(file, 'a .hdr/.img pair is not supported', { field: 'magic', expected: 'a single-file .nii ("n+1")' });
    dims = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le));
    datatype = dv.getInt16(70, le);
    bitpix = dv.getInt16(72, le);
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat32(76 + 4 * i, le));
    voxOffset = dv.getFloat32(108, le);
    slope = dv.getFloat32(112, le);
    inter = dv.getFloat32(116, le);
    qformCode = dv.getInt16(252, le);
    sformCode = dv.getInt16(254, le);
    quat = Array.from({ length: 6 }, (_, i) => dv.getFloat32(256 + 4 * i, le));
    srow = Array.from({ length: 12 }, (_, i) => dv.getFloat32(280 + 4 * i, le));
  } else {
    const magic = String.fromCharCode(h[4], h[5], h[6]);
    if (magic !== 'n+2') throw new FormatError(file, `bad NIfTI-2 magic "${magic}"`, { field: 'magic', expected: '"n+2"' });
    dims = Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, le)));
    datatype = dv.getInt16(12, le);
    bitpix = dv.getInt16(14, le);
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat64(104 + 8 * i, le));
    voxOffset = Number(dv.getBigInt64(168, le));
    slope = dv.getFloat64(176, le);
    inter = dv.getFloat64(184, le);
    qformCode = dv.getInt32(344, le);
    sformCode = dv.getInt32(348, le);
    quat = Array.from({ length: 6 }, (_, i) => dv.getFloat64(352 + 8 * i, le));
    srow = Array.from({ length: 12 }, (_, i) => dv.getFloat64(400 + 8 * i, le));
  }
  const ndim = dims[0];
  if (ndim < 1 || ndim > 7) throw new FormatError(file, `dim[0] = ${ndim}`, { field: 'dim[0]', expected: '1..7' });
  const shape = dims.slice(1, 1 + ndim);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new FormatError(file, `dimension sizes [${shape}]`, { field: 'dim', expected: 'positive sizes' });
  const dt = NIFTI_DTYPES[datatype];
  if (!dt) {
    throw new FormatError(file, `unsupported datatype code ${datatype}`, {
      field: 'datatype',
      expected: Object.entries(NIFTI_DTYPES).map(([k, v]) => `${k} (${v.name})`).join(', '),
    });
  }
  if (bitpix !== dt.bytes * 8) throw new FormatError(file, `bitpix ${bitpix} does not match datatype ${dt.name}`, { field: 'bitpix', expected: String(dt.bytes * 8) });
  // A NaN offset would be read from the wrong place (Math.max(NaN, 348) is NaN, skip(NaN) is a no-op).
  if (!Number.isFinite(voxOffset) || voxOffset < 0 || !Number.isSafeInteger(Math.floor(voxOffset))) {
    throw new FormatError(file, `vox_offset is ${voxOffset}`, { field: 'vox_offset', expected: `a byte offset >= ${version === 1 ? 352 : 544}` });
  }
  voxOffset = Math.floor(voxOffset);
  checkSize(file, shape, dt.bytes);
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;
  let affine: number[];
  if (sformCode > 0) affine = [...srow, 0, 0, 0, 1];
  else if (qformCode > 0) affine = qformAffine(quat[0], quat[1], quat[2], quat[3], quat[4], quat[5], pixdim);
  else affine = [pixdim[1] || 1, 0, 0, 0, 0, pixdim[2] || 1, 0, 0, 0, 0, pixdim[3] || 1, 0, 0, 0, 0, 1];
  return { version, littleEndian: le, shape, datatype, bitpix, pixdim, voxOffset: Math.max(voxOffset, version === 1 ? 348 : 540), slope, inter, qformCode, sformCode, affine };
}

/** Most voxels one 3-D volume may have (2^25: NSD's 1 mm volumes have 3.9 M), so a header cannot make a reader allocate GBs. */
export const MAX_VOLUME_VOXELS = 2 ** 25;
/** Most elements `readNifti` (whole file: masks, ROIs) returns, 256 MiB as float64. */
export const MAX_WHOLE_ELEMENTS = 2 ** 25;
/** Decompressed bytes tolerated after the data a header describes (a gzip bomb appended to a small volume is refused). */
export const MAX_TRAILING_BYTES = 1 << 20;

/** Refuses dimensions whose volume would not fit in memory or overflow a typed array. */
function checkSize(file: string, shape: number[], bytes: number): void {
  const [nx, ny = 1, nz = 1] = shape;
  const vox = nx * ny * nz;
  const count = shape.slice(3).reduce((a, b) => a * b, 1);
  if (vox > MAX_VOLUME_VOXELS) {
    throw new FormatError(file, `dimensions [${shape}] give ${vox} voxels per volume`, { field: 'dim', expected: `at most ${MAX_VOLUME_VOXELS} voxels per 3-D volume` });
  }
  if (!Number.isSafeInteger(vox * count * bytes)) {
    throw new FormatError(file, `dimensions [${shape}] describe more data than a file can hold`, { field: 'dim', expected: 'dimensions whose product fits in 2^53 bytes' });
  }
}

/** A reader of raw element i (unscaled) of a NIfTI data block. */
function elementGetter(raw: Uint8Array, h: NiftiHeader): (i: number) => number {
  const dt = NIFTI_DTYPES[h.datatype];
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = h.littleEndian;
  switch (dt.name) {
    case 'uint8': return (i) => raw[i];
    case 'int8': return (i) => dv.getInt8(i);
    case 'int16': return (i) => dv.getInt16(2 * i, le);
    case 'uint16': return (i) => dv.getUint16(2 * i, le);
    case 'int32': return (i) => dv.getInt32(4 * i, le);
    case 'uint32': return (i) => dv.getUint32(4 * i, le);
    case 'float32': return (i) => dv.getFloat32(4 * i, le);
    case 'float64': return (i) => dv.getFloat64(8 * i, le);
    case 'int64': return (i) => Number(dv.getBigInt64(8 * i, le));
    default: return (i) => Number(dv.getBigUint64(8 * i, le));
  }
}

/** Decodes raw elements into float64, applying slope/intercept (like nibabel's get_fdata). */
export function decodeNiftiData(raw: Uint8Array, h: NiftiHeader, out?: Float64Array): Float64Array {
  const n = raw.byteLength / NIFTI_DTYPES[h.datatype].bytes;
  const dst = out ?? new Float64Array(n);
  const get = elementGetter(raw, h);
  const { slope, inter } = h;
  if (slope === 1 && inter === 0) for (let i = 0; i < n; i++) dst[i] = get(i);
  else for (let i = 0; i < n; i++) dst[i] = get(i) * slope + inter;
  return dst;
}

/** decodeNiftiData restricted to the elements at `select` (in that order). */
export function decodeSelected(raw: Uint8Array, h: NiftiHeader, select: Int32Array): Float64Array {
  const n = raw.byteLength / NIFTI_DTYPES[h.datatype].bytes;
  const out = new Float64Array(select.length);
  const get = elementGetter(raw, h);
  const { slope, inter } = h;
  for (let k = 0; k < select.length; k++) {
    const i = select[k];
    if (i < 0 || i >= n) throw new FormatError('NIfTI volume', `voxel offset ${i} outside a volume of ${n}`, { field: 'select', expected: `offsets 0..${n - 1}` });
    out[k] = get(i) * slope + inter;
  }
  return out;
}

export interface NiftiVolumes {
  header: NiftiHeader;
  file: string;
  /** Voxels per 3-D volume (x*y*z). */
  volumeSize: number;
  /** Number of 3-D volumes (product of dims 4..7). */
  volumeCount: number;
  /**
   * Yields each 3-D volume in disk (x-fastest) order, scaled, one at a time; checks the gzip trailer
   * at the end. With `select` (disk offsets, e.g. from maskIndices), yields only those voxels, in that
   * order — decoding 15724 of NSD's 699192 voxels per volume instead of all of them.
   */
  volumes(signal?: AbortSignal, select?: Int32Array): AsyncGenerator<Float64Array>;
}

async function openReader(src: ByteSource): Promise<SequentialReader & { finish?: () => Promise<void> }> {
  const head = await src.read(0, 2);
  return isGzip(head) ? new GunzipReader(src) : new SourceReader(src);
}

export async function openNifti(src: ByteSource): Promise<NiftiVolumes> {
  const file = sourceName(src);
  const reader = await openReader(src);
  const first = await reader.take(348, 'NIfTI header');
  let hbytes = first;
  if (new DataView(first.buffer, first.byteOffset, 4).getInt32(0, true) === 540 || new DataView(first.buffer, first.byteOffset, 4).getInt32(0, false) === 540) {
    const rest = await reader.take(540 - 348, 'NIfTI-2 header');
    hbytes = new Uint8Array(540);
    hbytes.set(first);
    hbytes.set(rest, 348);
  } else hbytes = first.slice();
  const header = parseNiftiHeader(hbytes, file);
  const [nx, ny = 1, nz = 1] = header.shape;
  const volumeSize = nx * ny * nz;
  const volumeCount = header.shape.slice(3).reduce((a, b) => a * b, 1);
  const bytes = NIFTI_DTYPES[header.datatype].bytes;
  if (!isGzipReader(reader)) {
    const need = header.voxOffset + volumeSize * volumeCount * bytes;
    if (src.size < need) {
      throw new FormatError(file, `file is ${src.size} bytes but the header describes ${need}`, { field: 'data', expected: `${need} bytes for shape [${header.shape}]` });
    }
  }
  let used = false;
  return {
    header,
    file,
    volumeSize,
    volumeCount,
    async *volumes(signal?: AbortSignal, select?: Int32Array) {
      if (used) throw new Error(`${file}: volumes() can be iterated once per openNifti`);
      used = true;
      await reader.skip(header.voxOffset - reader.position, 'NIfTI extensions');
      for (let t = 0; t < volumeCount; t++) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        const raw = await reader.take(volumeSize * bytes, `volume ${t} of ${volumeCount}`);
        yield select ? decodeSelected(raw, header, select) : decodeNiftiData(raw, header);
      }
      if (reader instanceof GunzipReader) await reader.finish(`after volume ${volumeCount - 1}`, MAX_TRAILING_BYTES);
    },
  };
}

function isGzipReader(r: SequentialReader): r is GunzipReader {
  return r instanceof GunzipReader;
}

/** Reads a whole (small) NIfTI file, e.g. a mask or an ROI volume: one 3-D volume or all of them stacked. */
export async function readNifti(src: ByteSource): Promise<{ header: NiftiHeader; data: Float64Array }> {
  const nv = await openNifti(src);
  if (nv.volumeSize * nv.volumeCount > MAX_WHOLE_ELEMENTS) {
    throw new FormatError(nv.file, `dimensions [${nv.header.shape}] give ${nv.volumeSize * nv.volumeCount} values`, { field: 'dim', expected: `at most ${MAX_WHOLE_ELEMENTS} values in a mask or ROI volume` });
  }
  const data = new Float64Array(nv.volumeSize * nv.volumeCount);
  let t = 0;
  for await (const v of nv.volumes()) data.set(v, t++ * nv.volumeSize);
  return { header: nv.header, data };
}

/**
 * Disk offsets (x-fastest) of the voxels where `keep(value)` holds, listed in numpy's C order over
 * (x, y, z), i.e. the order of `vol[mask == 1]` on nibabel's array.
 */
export function maskIndices(volume: ArrayLike<number>, shape: number[], keep: (v: number) => boolean = (v) => v === 1): Int32Array {
  const [nx, ny = 1, nz = 1] = shape;
  const out: number[] = [];
  for (let x = 0; x < nx; x++)
    for (let y = 0; y < ny; y++)
      for (let z = 0; z < nz; z++) {
        const i = x + nx * (y + ny * z);
        if (keep(volume[i])) out.push(i);
      }
  return Int32Array.from(out);
}

/** (x, y, z) voxel coordinates of disk offsets. */
export function voxelCoords(indices: ArrayLike<number>, shape: number[]): Int32Array {
  const [nx, ny = 1] = shape;
  const out = new Int32Array(indices.length * 3);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    out[3 * k] = i % nx;
    out[3 * k + 1] = Math.floor(i / nx) % ny;
    out[3 * k + 2] = Math.floor(i / (nx * ny));
  }
  return out;
}

export function selectVoxels<T extends Float32Array | Float64Array>(volume: ArrayLike<number>, indices: Int32Array, out: T): T {
  for (let k = 0; k < indices.length; k++) out[k] = volume[indices[k]];
  return out;
}

/** Applies a 4x4 row-major affine to voxel coordinates; returns [n, 3] world coordinates (mm). */
export function applyAffine(affine: number[], ijk: ArrayLike<number>): Float64Array {
  const n = ijk.length / 3;
  const out = new Float64Array(n * 3);
  for (let k = 0; k < n; k++) {
    const i = ijk[3 * k], j = ijk[3 * k + 1], l = ijk[3 * k + 2];
    for (let r = 0; r < 3; r++) out[3 * k + r] = affine[4 * r] * i + affine[4 * r + 1] * j + affine[4 * r + 2] * l + affine[4 * r + 3];
  }
  return out;
}


// PyTorch .pt / .pth files (torch.save's zip format, PyTorch >= 1.6): <prefix>/data.pkl is a pickle
// whose tensors point (persistent ids) at storages stored as <prefix>/data/<key>. We read it with the
// safe unpickler plus exactly the rebuild functions torch's own `weights_only` loader allows, and
// keep storages on disk until a tensor's values are asked for.
import { readExactly, sourceName, type ByteSource } from './byteSource.ts';
import { FormatError } from './errors.ts';
import { isDict, Opaque, unpickle, type GlobalImpl, type PyValue } from './pickle.ts';
import { openZip } from './zip.ts';
import { fromHalf } from '../tensor/float16.ts';

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};
export const TORCH_DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export class TorchStorage {
  constructor(
    readonly dtype: TorchDtype,
    readonly source: ByteSource,
    readonly key: string,
  ) {}
}

export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get contiguous(): boolean {
    let s = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== s) return false;
      s *= this.shape[d];
    }
    return true;
  }
}

function decode(raw: Uint8Array, dtype: TorchDtype, out: Float32Array | Float64Array, outOffset = 0): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / TORCH_DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'float32': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getFloat32(4 * i, true); break;
    case 'float64': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getFloat64(8 * i, true); break;
    case 'float16': for (let i = 0; i < n; i++) out[outOffset + i] = fromHalf(dv.getUint16(2 * i, true)); break;
    case 'bfloat16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < n; i++) {
        u[0] = dv.getUint16(2 * i, true) << 16;
        out[outOffset + i] = f[0];
      }
      break;
    }
    case 'int64': for (let i = 0; i < n; i++) out[outOffset + i] = Number(dv.getBigInt64(8 * i, true)); break;
    case 'int32': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt32(4 * i, true); break;
    case 'int16': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt16(2 * i, true); break;
    case 'int8': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt8(i); break;
    default: for (let i = 0; i < n; i++) out[outOffset + i] = raw[i];
  }
}

/**
 * Refuses a tensor whose geometry does not fit its storage: negative or fractional sizes, strides or
 * offset, a rank mismatch, or elements past the storage's end (torch itself would raise).
 */
export function checkTensorGeometry(file: string, t: TorchTensor, what = `tensor on storage ${t.storage.key}`): void {
  const ints = (xs: number[]) => xs.every((x) => Number.isSafeInteger(x) && x >= 0);
  if (!ints([t.offset]) || !ints(t.shape) || !ints(t.stride) || t.shape.length !== t.stride.length) {
    throw new FormatError(file, `shape [${t.shape}], stride [${t.stride}], offset ${t.offset}`, { field: what, expected: 'non-negative integer sizes, strides and offset, one stride per dimension' });
  }
  const eb = TORCH_DTYPE_BYTES[t.dtype];
  const numel = Math.floor(t.storage.source.size / eb);
  if (t.size === 0) return;
  let maxOff = t.offset;
  for (let d = 0; d < t.shape.length; d++) maxOff += (t.shape[d] - 1) * t.stride[d];
  if (!Number.isSafeInteger(t.size) || !Number.isSafeInteger(maxOff) || maxOff >= numel) {
    throw new FormatError(file, `shape [${t.shape}] with stride [${t.stride}] and offset ${t.offset} reaches element ${maxOff} of a storage of ${numel}`, { field: what, expected: `elements within the storage's ${numel}` });
  }
}

/** Most values one read returns (2^26: 512 MiB as float64), so a broadcast (stride 0) shape cannot ask for GBs. */
export const MAX_TENSOR_VALUES = 2 ** 26;

function checkValueCount(t: TorchTensor, n: number): void {
  if (n > MAX_TENSOR_VALUES) {
    throw new FormatError(sourceName(t.storage.source), `reading ${n} values of a tensor of shape [${t.shape}] at once`, { field: `storage ${t.storage.key}`, expected: `at most ${MAX_TENSOR_VALUES} values per read` });
  }
}

/** All values of a tensor in C order (float64 keeps int64 and float64 exact). Reads only the span it uses. */
export async function tensorValues(t: TorchTensor): Promise<Float64Array> {
  checkTensorGeometry(sourceName(t.storage.source), t);
  checkValueCount(t, t.size);
  const out = new Float64Array(t.size);
  if (t.size === 0) return out;
  const eb = TORCH_DTYPE_BYTES[t.dtype];
  let maxOff = t.offset;
  for (let d = 0; d < t.shape.length; d++) maxOff += (t.shape[d] - 1) * t.stride[d];
  const span = maxOff - t.offset + 1;
  // A strided view reads the whole span of storage it touches: a few values strided across a huge
  // (e.g. deflated) storage must not pull GBs in.
  checkValueCount(t, span);
  const raw = await readExactly(t.storage.source, t.offset * eb, span * eb, `storage ${t.storage.key}`);
  const all = new Float64Array(span);
  decode(raw, t.dtype, all);
  if (t.contiguous) return all.subarray(0, t.size).slice();
  const nd = t.shape.length;
  const idx = new Array<number>(nd).fill(0);
  for (let c = 0; c < t.size; c++) {
    let off = 0;
    for (let d = 0; d < nd; d++) off += idx[d] * t.stride[d];
    out[c] = all[off];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Elements [i*inner, (i+count)*inner) of a contiguous tensor along its first axis, as float32. */
export async function tensorRows(t: TorchTensor, start: number, count: number): Promise<Float32Array> {
  checkTensorGeometry(sourceName(t.storage.source), t);
  if (!t.contiguous) throw new FormatError(sourceName(t.storage.source), `tensor with shape [${t.shape}] and stride [${t.stride}] is not contiguous`, { field: `storage ${t.storage.key}`, expected: 'a contiguous tensor (save tensor.contiguous())' });
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > (t.shape[0] ?? 1)) {
    throw new FormatError(sourceName(t.storage.source), `rows ${start}..${start + count} out of range`, { field: `storage ${t.storage.key}`, expected: `rows 0..${t.shape[0]}` });
  }
  const inner = t.size / (t.shape[0] || 1);
  checkValueCount(t, count * inner);
  const eb = TORCH_DTYPE_BYTES[t.dtype];
  const raw = await readExactly(t.storage.source, (t.offset + start * inner) * eb, count * inner * eb, `storage ${t.storage.key}`);
  const out = new Float32Array(count * inner);
  decode(raw, t.dtype, out);
  return out;
}

export interface TorchFile {
  /** The unpickled object: tensors are TorchTensor, containers as in pickle.ts. */
  root: PyValue;
  file: string;
}

/** Largest data.pkl accepted (64 MiB; torch.save writes KBs there, the values go to separate members). */
export const MAX_DATA_PKL_BYTES = 64 << 20;

/** Opens a torch.save zip file and unpickles data.pkl with storages left on disk. */
export async function loadTorch(src: ByteSource): Promise<TorchFile> {
  const file = sourceName(src);
  const zip = await openZip(src);
  const pkl = [...zip.entries.keys()].find((n) => /(^|\/)data\.pkl$/.test(n));
  if (!pkl) throw new FormatError(file, 'no data.pkl inside the zip', { field: 'data.pkl', expected: 'a torch.save file (zip with <name>/data.pkl)' });
  // data.pkl only describes the tensors (KBs; storages are separate members): a huge one is a bomb
  const pklSize = zip.entries.get(pkl)!.size;
  if (pklSize > MAX_DATA_PKL_BYTES) throw new FormatError(file, `data.pkl is ${pklSize} bytes`, { field: pkl, expected: `at most ${MAX_DATA_PKL_BYTES} bytes (tensor data lives in data/<key>, not in the pickle)` });
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const storages = new Map<string, TorchStorage>();
  const pending: Array<Promise<void>> = [];
  const tensors: TorchTensor[] = [];
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw new FormatError(file, 'unknown persistent id', { field: 'data.pkl', expected: "('storage', type, key, location, numel)" });
    const type = pid[1];
    const typeName = type instanceof Opaque ? type.name.replace(/^torch\.(storage\.)?/, '') : '';
    const dtype = STORAGE_TYPES[typeName];
    if (!dtype) throw new FormatError(file, `unsupported storage type ${String(typeName)}`, { field: 'storage', expected: Object.keys(STORAGE_TYPES).join(', ') });
    const key = String(pid[2]);
    let s = storages.get(key);
    if (!s) {
      const placeholder = new TorchStorage(dtype, { size: 0, name: file, read: async () => new Uint8Array(0) }, key);
      s = placeholder;
      storages.set(key, s);
      pending.push(
        zip.open(`${prefix}data/${key}`).then((source) => {
          Object.assign(placeholder, { source });
        }),
      );
    }
    return s as unknown as PyValue;
  };
  const storageClass: GlobalImpl = {};
  const extraGlobals: Record<string, GlobalImpl> = {
    'torch._utils._rebuild_tensor_v2': {
      call: (args) => {
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof TorchStorage)) throw new FormatError(file, 'tensor without a storage', { field: 'data.pkl' });
        if (!Array.isArray(size) || !Array.isArray(stride)) throw new FormatError(file, 'tensor size or stride is not a tuple', { field: 'data.pkl', expected: '_rebuild_tensor_v2(storage, offset, size tuple, stride tuple, ...)' });
        const t = new TorchTensor(storage, Number(offset), size.map(Number), stride.map(Number));
        tensors.push(t);
        return t as unknown as PyValue;
      },
    },
    'torch._utils._rebuild_parameter': { call: (args) => args[0] },
    'torch._utils._rebuild_parameter_with_state': { call: (args) => args[0] },
  };
  for (const name of Object.keys(STORAGE_TYPES)) {
    extraGlobals[`torch.${name}`] = storageClass;
    extraGlobals[`torch.storage.${name}`] = storageClass;
  }
  for (const dt of ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']) extraGlobals[`torch.${dt}`] = {};
  const root = await unpickle(await zip.open(pkl), { file: `${file}:${pkl}`, persistentLoad, extraGlobals });
  await Promise.all(pending);
  // Checked once every storage is known: a shape larger than its storage, or a negative stride, is
  // a clear error here rather than a RangeError or wrong values when the tensor is read.
  const names = tensorKeys(root);
  for (const t of tensors) {
    const key = names.get(t);
    checkTensorGeometry(file, t, key === undefined ? undefined : `tensor ${key} (storage ${t.storage.key})`);
  }
  return { root, file };
}

/** The dict key (dotted through nested dicts, e.g. a state dict under 'model') of each tensor, so errors name the weight, not only its storage. */
function tensorKeys(root: PyValue, prefix = '', out = new Map<TorchTensor, string>(), depth = 0): Map<TorchTensor, string> {
  if (!isDict(root) || depth > 3) return out;
  for (const [k, v] of root) {
    const name = `${prefix}${String(k)}`;
    if (v instanceof TorchTensor) {
      if (!out.has(v)) out.set(v, name);
    } else tensorKeys(v, `${name}.`, out, depth + 1);
  }
  return out;
}

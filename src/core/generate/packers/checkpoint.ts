// A checkpoint as the packers see it: tensor names with shapes and dtypes, values read one tensor at
// a time, whatever the file: a Hugging Face folder (model.safetensors, sharded model-0000N-of-M
// with model.safetensors.index.json, or pytorch_model.bin[.index.json]), or one .safetensors /
// .bin / .pt / .pth file. Reading through ByteSources keeps a multi-GB checkpoint on disk.
import { FormatError } from '../../formats/errors.ts';
import type { ByteSource } from '../../formats/byteSource.ts';
import { readAll } from '../../formats/byteSource.ts';
import { isDict, type PyValue } from '../../formats/pickle.ts';
import { openSafetensors, readSafetensorFloat32, type SafetensorsFile } from '../../formats/safetensors.ts';
import { loadTorch, tensorRows, tensorValues, TorchTensor } from '../../formats/torch.ts';

/** A folder of files (structurally what the CLI's fsTree and the page's folder picker provide). */
export interface CheckpointFolder {
  readonly label: string;
  open(path: string): Promise<ByteSource | null>;
}

export interface CheckpointTensor {
  name: string;
  shape: number[];
  /** As the file names it: 'F32' / 'BF16' (safetensors) or 'float32' / 'bfloat16' (torch). */
  dtype: string;
  /** The file holding it (for messages). */
  file: string;
}

export interface Checkpoint {
  /** The folder or file, for messages. */
  label: string;
  files: string[];
  tensors: Map<string, CheckpointTensor>;
  /** The tensor's values as float32, C order. */
  read(name: string): Promise<Float32Array>;
  /** Free-form JSON files next to the weights (config.json), when present. */
  config?: unknown;
}

const SINGLE = ['model.safetensors', 'pytorch_model.bin'];
const INDEXED = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'];
const FLOAT_TORCH = ['float32', 'float16', 'bfloat16', 'float64'];

async function readJson(src: ByteSource, what: string): Promise<unknown> {
  try {
    return JSON.parse(new TextDecoder().decode(await readAll(src)));
  } catch (e) {
    throw new FormatError(src.name ?? what, 'not valid JSON', { field: what, expected: 'a JSON file', cause: e });
  }
}

/** One weights file (safetensors or torch.save) as name -> tensor readers. */
async function openWeightsFile(src: ByteSource, name: string): Promise<{ tensors: CheckpointTensor[]; read: (n: string) => Promise<Float32Array> }> {
  if (/\.safetensors$/i.test(name)) {
    const f: SafetensorsFile = await openSafetensors(src);
    return {
      tensors: [...f.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype, file: f.file })),
      read: (n) => readSafetensorFloat32(f, n),
    };
  }
  const t = await loadTorch(src);
  let root: PyValue = t.root;
  // Training checkpoints wrap the weights: {'state_dict': ...} or {'model': ...}.
  for (const k of ['state_dict', 'model']) if (isDict(root) && isDict(root.get(k) as PyValue)) root = root.get(k) as PyValue;
  if (!isDict(root)) throw new FormatError(t.file, 'the pickled object is not a dict of tensors', { field: 'data.pkl', expected: 'a state dict (name -> tensor)' });
  const map = new Map<string, TorchTensor>();
  for (const [k, v] of root) if (typeof k === 'string' && v instanceof TorchTensor) map.set(k, v);
  return {
    tensors: [...map].map(([n, v]) => ({ name: n, shape: v.shape, dtype: v.dtype, file: t.file })),
    read: async (n) => {
      const v = map.get(n) as TorchTensor;
      if (!FLOAT_TORCH.includes(v.dtype)) throw new FormatError(t.file, `dtype ${v.dtype}`, { field: `tensor ${n}`, expected: 'float32, float16 or bfloat16 weights' });
      if (v.contiguous && v.shape.length > 0 && v.size > 0) return tensorRows(v, 0, v.shape[0]);
      return Float32Array.from(await tensorValues(v));
    },
  };
}

/** Whether the folder holds weights openCheckpoint can read (an HF weights file or an index). */
export async function hasWeights(folder: CheckpointFolder): Promise<boolean> {
  for (const name of [...SINGLE, ...INDEXED]) if (await folder.open(name)) return true;
  return false;
}

/**
 * Opens a checkpoint in `folder`: the given file, else the first of model.safetensors,
 * pytorch_model.bin, or the shards an index.json lists. config.json is read when present.
 */
export async function openCheckpoint(folder: CheckpointFolder, opts: { file?: string } = {}): Promise<Checkpoint> {
  const tensors = new Map<string, CheckpointTensor>();
  const readers = new Map<string, (n: string) => Promise<Float32Array>>();
  const files: string[] = [];
  const add = async (name: string, src: ByteSource) => {
    const w = await openWeightsFile(src, name);
    files.push(src.name ?? name);
    for (const t of w.tensors) {
      tensors.set(t.name, t);
      readers.set(t.name, w.read);
    }
  };
  const must = async (name: string) => {
    const src = await folder.open(name);
    if (!src) throw new FormatError(`${folder.label}/${name}`, 'file not found', { expected: 'the file the checkpoint index lists' });
    return src;
  };
  if (opts.file) {
    await add(opts.file, await must(opts.file));
  } else {
    let found = false;
    for (const name of SINGLE) {
      const src = await folder.open(name);
      if (src) {
        await add(name, src);
        found = true;
        break;
      }
    }
    for (const name of found ? [] : INDEXED) {
      const src = await folder.open(name);
      if (!src) continue;
      const idx = (await readJson(src, name)) as { weight_map?: Record<string, unknown> };
      const shards = idx && typeof idx.weight_map === 'object' ? [...new Set(Object.values(idx.weight_map ?? {}))] : null;
      if (!shards || !shards.every((s) => typeof s === 'string' && !s.includes('/') && !s.includes('\\'))) {
        throw new FormatError(src.name ?? name, 'weight_map is not a map of tensor names to shard file names', { field: 'weight_map', expected: '{"<tensor>": "model-00001-of-00002.safetensors", ...}' });
      }
      for (const s of shards as string[]) await add(s, await must(s));
      found = true;
      break;
    }
    if (!found) {
      throw new FormatError(folder.label, 'no weights found', { expected: `a Hugging Face model folder with ${[...SINGLE, ...INDEXED].join(', ')}` });
    }
  }
  const cfgSrc = await folder.open('config.json');
  return {
    label: opts.file ? `${folder.label}/${opts.file}` : folder.label,
    files,
    tensors,
    config: cfgSrc ? await readJson(cfgSrc, 'config.json') : undefined,
    read: (n) => {
      const r = readers.get(n);
      if (!r) throw new FormatError(files.join(', '), 'no such tensor', { field: `tensor ${n}` });
      return r(n);
    },
  };
}

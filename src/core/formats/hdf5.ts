// HDF5 datasets through h5wasm (the HDF5 C library in WebAssembly), read by row blocks so that
// MindEye2's betas_all_subjXX_fp32_renorm.hdf5 (30000 x nvox float32, ~2 GB) never sits in memory.
// core/ does not load h5wasm itself: the caller hands in the module — the CLI the Node build
// ('h5wasm/node', which reads files straight from disk), the page the browser build (with the File
// mounted in its virtual filesystem, e.g. WORKERFS in a worker).
//
// Hostile files. An HDF5 file can point outside itself: a dataset's raw data "stored externally" in
// any host file (H5Pset_external — e.g. /etc/passwd), external links and virtual datasets naming other
// files, filter plugins loaded from disk. A bundle is made to be shared, so we confine the library to
// the one file it was asked to open: every other open() it attempts is refused (and named in the
// error). And the library's own failures (a corrupt gzip chunk, a truncated or garbage file) are
// turned into errors naming the file: by default h5wasm prints HDF5's diagnostics and goes on with
// zeros in the buffer, so the throwing error handler is switched on around each call.
import type * as H5 from 'h5wasm';
import { FormatError } from './errors.ts';

export type H5Api = Pick<typeof H5, 'File' | 'ready'>;

export interface Hdf5RowReader {
  file: string;
  dataset: string;
  shape: number[];
  /** h5wasm's dtype string, e.g. "<f" (float32). */
  dtype: string;
  /** Rows [start, start + count) along the first axis, as float32 in C order. */
  readRows(start: number, count: number): Promise<Float32Array>;
  close(): void;
}

/** Most values one readRows call returns (2^26 float32 = 256 MiB). */
export const MAX_HDF5_READ_VALUES = 2 ** 26;

/** The parts of the Emscripten module we use (h5wasm's `ready` resolves to it). */
interface EmModule {
  FS: { open: (path: unknown, flags?: unknown, mode?: unknown) => unknown; ErrnoError: new (errno: number) => Error };
  activate_throwing_error_handler(): number;
  deactivate_throwing_error_handler(): number;
}

interface Guard {
  /** Paths the library may open (the files of open readers). */
  allowed: Set<string>;
  /** Paths it tried to open that were refused, since the last `take`. */
  refused: string[];
}
const guards = new WeakMap<object, Guard>();

const O_CREAT = 0o100;
const O_EXCL = 0o200;
const ENOENT = 44; // Emscripten's errno numbering

/** Installs (once per module) the open() filter that confines HDF5 to the files we opened. */
function guardOf(mod: EmModule): Guard {
  let g = guards.get(mod);
  if (g) return g;
  const guard: Guard = { allowed: new Set(), refused: [] };
  const open = mod.FS.open;
  mod.FS.open = function (path: unknown, flags?: unknown, mode?: unknown) {
    const p = String(path);
    const fl = typeof flags === 'number' ? flags : 0;
    // The throwing error handler formats HDF5's error stack through tmpfile(), which creates a
    // fresh file (O_CREAT|O_EXCL) and unlinks it: harmless, and never reads anything existing.
    const scratch = /^\/tmp\/tmpfile_/.test(p) && (fl & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
    if (!guard.allowed.has(p) && !scratch) {
      guard.refused.push(p);
      throw new mod.FS.ErrnoError(ENOENT);
    }
    return open.call(this, path, flags, mode);
  };
  guards.set(mod, guard);
  g = guard;
  return g;
}

/** The innermost line of HDF5's error stack ("H5Z_pipeline(): filter returned failure during read"). */
function hdf5Reason(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const frames = [...text.matchAll(/#\d+: .*? in ([A-Za-z0-9_]+\(\)): (.*)/g)];
  if (frames.length) {
    const last = frames[frames.length - 1];
    return `${last[1]}: ${last[2].trim()}`;
  }
  return text.split('\n')[0].slice(0, 300);
}

/**
 * Runs one h5wasm call with HDF5 confined to our files and its errors thrown; any failure becomes a
 * FormatError naming `label` and `field`.
 */
function guarded<T>(mod: EmModule, label: string, field: string | undefined, what: string, fn: () => T): T {
  const guard = guardOf(mod);
  guard.refused.length = 0;
  mod.activate_throwing_error_handler();
  try {
    return fn();
  } catch (e) {
    const outside = [...new Set(guard.refused)].filter((p) => !/\/lib\/plugin$/.test(p));
    if (outside.length) {
      throw new FormatError(label, `${what}: the file refers to ${outside.join(', ')} outside itself (external storage, an external link or a virtual dataset); refused, nothing was read from there`, {
        field,
        expected: 'a self-contained HDF5 file (h5py: no external=, ExternalLink or VirtualLayout)',
        cause: e,
      });
    }
    if (e instanceof FormatError) throw e;
    throw new FormatError(label, `${what}: ${hdf5Reason(e)}`, { field, expected: 'a complete, uncorrupted HDF5 file', cause: e });
  } finally {
    mod.deactivate_throwing_error_handler();
  }
}

export async function openHdf5Rows(h5: H5Api, path: string, dataset: string, label = path): Promise<Hdf5RowReader> {
  const mod = (await h5.ready) as unknown as EmModule;
  const guard = guardOf(mod);
  guard.allowed.add(path);
  let f: H5.File | undefined;
  const close = () => {
    guard.allowed.delete(path);
    try {
      f?.close();
    } catch {
      // closing a file whose open failed half-way: nothing left to release
    }
  };
  try {
    f = guarded(mod, label, undefined, 'cannot open as HDF5', () => new h5.File(path, 'r'));
    const file = f;
    const ds = guarded(mod, label, dataset, 'cannot read the dataset', () => file.get(dataset));
    const link = ds as { type?: string; filename?: string; obj_path?: string } | null;
    if (link?.type === 'ExternalLink') {
      throw new FormatError(label, `is an external link to ${link.filename}:${link.obj_path}; refused, nothing was read from there`, { field: dataset, expected: 'a dataset stored in this file, not a link to another file' });
    }
    if (!ds || (ds as { type?: string }).type !== 'Dataset') {
      const kind = ds ? (ds.constructor?.name ?? typeof ds) : 'nothing';
      const found = guarded(mod, label, undefined, 'cannot list the file', () => file.keys().join(', '));
      throw new FormatError(label, `no dataset "${dataset}" (found ${kind})`, { field: dataset, expected: `a dataset named ${dataset}; found ${found}` });
    }
    const d = ds as H5.Dataset;
    const meta = guarded(mod, label, dataset, 'cannot read the dataset', () => d.metadata as H5.Metadata & { virtual_sources?: Array<{ file_name: string }> });
    if (meta.virtual_sources?.length) {
      throw new FormatError(label, `dataset is virtual, mapped from ${meta.virtual_sources.map((v) => v.file_name).join(', ')}; refused`, { field: dataset, expected: 'a dataset stored in this file' });
    }
    const shape = meta.shape ?? [];
    const dtype = String(d.dtype);
    if (!shape.length) throw new FormatError(label, 'dataset is a scalar', { field: dataset, expected: 'a 2-D array' });
    const inner = shape.slice(1).reduce((a, b) => a * b, 1);
    const readRows = (start: number, count: number): Float32Array => {
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > shape[0]) {
        throw new FormatError(label, `rows ${start}..${start + count} out of range`, { field: dataset, expected: `0..${shape[0]}` });
      }
      if (count * inner > MAX_HDF5_READ_VALUES) {
        throw new FormatError(label, `reading ${count} rows of ${inner} values at once`, { field: dataset, expected: `at most ${MAX_HDF5_READ_VALUES} values per read` });
      }
      const v = guarded(mod, label, dataset, `cannot read rows ${start}..${start + count}`, () => d.slice([[start, start + count]]));
      if (v instanceof Float32Array) return v;
      if (v && typeof (v as ArrayLike<number>).length === 'number' && typeof (v as ArrayLike<unknown>)[0] !== 'string') return Float32Array.from(v as ArrayLike<number>, Number);
      throw new FormatError(label, 'dataset is not numeric', { field: dataset, expected: 'float32 or other numbers' });
    };
    // Reading the first row now surfaces external storage and corrupt first chunks at open time,
    // before an import has written anything.
    if (shape[0] > 0 && inner > 0) readRows(0, 1);
    const reader: Hdf5RowReader = {
      file: label,
      dataset,
      shape,
      dtype,
      // async: the CLI runs the library in a worker thread (src/node/hdf5.ts), the same interface
      readRows: async (start, count) => readRows(start, count),
      close,
    };
    return reader;
  } catch (e) {
    close();
    throw e;
  }
}

// HDF5 datasets through h5wasm (the HDF5 C library in WebAssembly), read by row blocks so that
// MindEye2's betas_all_subjXX_fp32_renorm.hdf5 (30000 x nvox float32, ~2 GB) never sits in memory.
// core/ does not load h5wasm itself: the caller hands in the module, already `ready` — the CLI the
// Node build ('h5wasm/node', which reads files straight from disk), the page the browser build
// (with the File mounted in its virtual filesystem, e.g. WORKERFS in a worker).
import type * as H5 from 'h5wasm';
import { FormatError } from './errors.ts';

export type H5Api = Pick<typeof H5, 'File'>;

export interface Hdf5RowReader {
  file: string;
  dataset: string;
  shape: number[];
  /** h5wasm's dtype string, e.g. "<f" (float32). */
  dtype: string;
  /** Rows [start, start + count) along the first axis, as float32 in C order. */
  readRows(start: number, count: number): Float32Array;
  close(): void;
}

export function openHdf5Rows(h5: H5Api, path: string, dataset: string, label = path): Hdf5RowReader {
  let f: H5.File;
  try {
    f = new h5.File(path, 'r');
  } catch (e) {
    throw new FormatError(label, `cannot open as HDF5: ${(e as Error).message}`, { expected: 'an HDF5 file', cause: e });
  }
  const ds = f.get(dataset);
  if (!ds || !(ds instanceof (h5 as typeof H5).Dataset || (ds as { type?: string }).type === 'Dataset')) {
    const found = f.keys().join(', ');
    f.close();
    throw new FormatError(label, `no dataset "${dataset}"`, { field: dataset, expected: `a dataset named ${dataset}; found ${found}` });
  }
  const d = ds as H5.Dataset;
  const shape = d.shape ?? [];
  const dtype = String(d.dtype);
  if (!shape.length) {
    f.close();
    throw new FormatError(label, 'dataset is a scalar', { field: dataset, expected: 'a 2-D array' });
  }
  return {
    file: label,
    dataset,
    shape,
    dtype,
    readRows(start, count) {
      if (start < 0 || start + count > shape[0]) {
        throw new FormatError(label, `rows ${start}..${start + count} out of range`, { field: dataset, expected: `0..${shape[0]}` });
      }
      const v = d.slice([[start, start + count]]);
      if (v instanceof Float32Array) return v;
      if (v && typeof (v as ArrayLike<number>).length === 'number') return Float32Array.from(v as ArrayLike<number>, Number);
      throw new FormatError(label, 'dataset is not numeric', { field: dataset, expected: 'float32 or other numbers' });
    },
    close() {
      f.close();
    },
  };
}

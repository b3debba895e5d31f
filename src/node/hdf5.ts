// HDF5 for the CLI: src/core/formats/hdf5.ts run in a worker thread that loads h5wasm *before* tsx.
// Why a worker: the CLI runs under tsx, whose module loader rewrites every ES module it loads;
// h5wasm's Node build is one 4 MB file (the wasm inlined as base64), and tsx's rewrite of it
// (dynamic-import shim + source map) took ~600 MB of memory before any file was opened (issue 16:
// "the HDF5 reader takes ~1.1 GB even for tiny files"). Loaded untouched in a worker thread (tsx's
// hooks are per thread), it costs ~60 MB; tsx is registered in the worker only afterwards, to load
// the reader itself. The reader, its confinement and its errors are the same code as in-process.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FormatError } from '../core/formats/errors.ts';
import type { Hdf5RowReader } from '../core/formats/hdf5.ts';
import { assertRegularFile } from './files.ts';

type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; file?: string; field?: string; expected?: string } };

const WORKER = (h5: string, tsx: string, reader: string) => `
import { parentPort, workerData } from 'node:worker_threads';
const h5 = (await import(${JSON.stringify(h5)})).default;
await h5.ready;
const { register } = await import(${JSON.stringify(tsx)});
register();
const { openHdf5Rows } = await import(${JSON.stringify(reader)});
let r = null;
parentPort.on('message', async ({ id, op, args }) => {
  try {
    let value;
    if (op === 'open') {
      r = await openHdf5Rows(h5, ...args);
      value = { shape: r.shape, dtype: r.dtype };
    } else if (op === 'rows') value = await r.readRows(...args);
    parentPort.postMessage({ id, ok: true, value }, value instanceof Float32Array ? [value.buffer] : []);
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: { name: e.name, message: String(e.message), file: e.file, field: e.field, expected: e.expected } });
  }
});
parentPort.postMessage({ id: 0, ok: true, value: 'ready' });
`;

/** The FormatError a worker reported, rebuilt with the same file, field and expected. */
function rebuild(e: Extract<Reply, { ok: false }>['error']): Error {
  if (e.file === undefined) return new Error(e.message);
  let msg = e.message;
  const where = e.field ? `${e.file}: ${e.field}: ` : `${e.file}: `;
  if (msg.startsWith(where)) msg = msg.slice(where.length);
  const tail = e.expected ? ` (expected ${e.expected})` : '';
  if (tail && msg.endsWith(tail)) msg = msg.slice(0, -tail.length);
  return new FormatError(e.file, msg, { field: e.field, expected: e.expected });
}

/** Opens `dataset` of the HDF5 file at `path` (absolute) in a worker; `label` names it in errors. */
export async function openHdf5File(path: string, dataset: string, label = path): Promise<Hdf5RowReader> {
  // HDF5 opens the file itself: a FIFO would block it (and the worker) forever
  if (existsSync(path)) await assertRegularFile(path, 'a regular HDF5 file', label);
  const code = WORKER(import.meta.resolve('h5wasm/node'), import.meta.resolve('tsx/esm/api'), new URL('../core/formats/hdf5.ts', import.meta.url).href);
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 1;
  let dead: Error | null = null;
  const ready = new Promise<void>((resolve, reject) => waiting.set(0, { resolve: () => resolve(), reject }));
  worker.on('message', (m: Reply) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(rebuild(m.error));
  });
  const fail = (e: Error) => {
    dead = e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the HDF5 worker exited (code ${code})`)));
  const call = (op: string, args: unknown[]): Promise<unknown> => {
    if (dead) return Promise.reject(dead);
    const id = next++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    });
  };
  try {
    await ready;
    const { shape, dtype } = (await call('open', [path, dataset, label])) as { shape: number[]; dtype: string };
    return {
      file: label,
      dataset,
      shape,
      dtype,
      readRows: (start, count) => call('rows', [start, count]) as Promise<Float32Array>,
      close: () => void worker.terminate(),
    };
  } catch (e) {
    void worker.terminate();
    throw e;
  }
}

// Page-side clients of the workers. One decode worker per page; panels of other areas (cortex,
// reconstruct, evaluate) get it through `decodeClient()` so a bundle is opened and held once.
import { wrap, proxy, type Remote } from 'comlink';
import type { DecodeWorkerApi, ProgressReport, BundleSourceSpec } from '../core/decode/protocol.ts';

export type { DecodeWorkerApi } from '../core/decode/protocol.ts';
export type * from '../core/decode/protocol.ts';

let decodeWorker: Worker | null = null;
let decodeRemote: Remote<DecodeWorkerApi> | null = null;

/** The decode worker (started on first use). */
export function decodeClient(): Remote<DecodeWorkerApi> {
  if (!decodeRemote) {
    decodeWorker = new Worker(new URL('../../workers/decode.worker.ts', import.meta.url), {
      type: 'module',
      name: 'mirage-decode',
    });
    decodeRemote = wrap<DecodeWorkerApi>(decodeWorker);
  }
  return decodeRemote;
}

/** Opens a bundle in the decode worker, reporting progress by bytes. */
export function openBundleInWorker(source: BundleSourceSpec, onProgress: (p: ProgressReport) => void) {
  return decodeClient().open(source, proxy(onProgress));
}

/** Stops the decode worker (tests, or a hard reset after a backend crash). */
export function terminateDecodeWorker(): void {
  decodeWorker?.terminate();
  decodeWorker = null;
  decodeRemote = null;
}

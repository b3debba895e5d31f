// What bundle is open: where it comes from, its manifest once validated, bytes loaded so far, and
// the error that stopped it. The worker does the loading; this store only mirrors what it reports.
import { create } from 'zustand';
import type { Manifest } from '../core/bundle/manifest.ts';

export type BundleLocation =
  | { kind: 'url'; url: string }
  /** A folder picked or dropped by the user; `label` is the folder name shown in the page. */
  | { kind: 'files'; label: string; files: Map<string, Blob> };

export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  file: string;
}

/** An error in a form the page can show: what failed, and (for bad input) the file and field. */
export interface AppError {
  /** What the app was doing, e.g. "opening bundle", "decoding trial 12". */
  context: string;
  message: string;
  name?: string;
  file?: string;
  field?: string;
}

export type BundleStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface BundleState {
  location: BundleLocation | null;
  status: BundleStatus;
  manifest: Manifest | null;
  progress: LoadProgress | null;
  error: AppError | null;
  /** Monotonic id of the open request, so late progress of an abandoned load is ignored. */
  requestId: number;
  startLoading(location: BundleLocation): number;
  setProgress(requestId: number, progress: LoadProgress): void;
  setReady(requestId: number, manifest: Manifest): void;
  setError(requestId: number, error: AppError): void;
}

export const useBundleStore = create<BundleState>()((set, get) => ({
  location: null,
  status: 'idle',
  manifest: null,
  progress: null,
  error: null,
  requestId: 0,
  startLoading(location) {
    const requestId = get().requestId + 1;
    set({ location, status: 'loading', manifest: null, progress: null, error: null, requestId });
    return requestId;
  },
  setProgress(requestId, progress) {
    if (requestId === get().requestId) set({ progress });
  },
  setReady(requestId, manifest) {
    if (requestId === get().requestId) set({ status: 'ready', manifest, error: null });
  },
  setError(requestId, error) {
    if (requestId === get().requestId) set({ status: 'error', error });
  },
}));

/** Whether the open bundle is simulated (the page must say so wherever its data is shown). */
export function isSimulated(manifest: Manifest | null): boolean {
  return manifest?.provenance.kind === 'simulated';
}

/** Turns anything thrown (BundleError across a worker boundary included) into an AppError. */
export function toAppError(context: string, e: unknown): AppError {
  if (e && typeof e === 'object') {
    const o = e as { message?: unknown; name?: unknown; file?: unknown; field?: unknown };
    return {
      context,
      message: typeof o.message === 'string' ? o.message : String(e),
      name: typeof o.name === 'string' ? o.name : undefined,
      file: typeof o.file === 'string' ? o.file : undefined,
      field: typeof o.field === 'string' ? o.field : undefined,
    };
  }
  return { context, message: String(e) };
}

// Types every worker protocol shares: where a worker opens a bundle from, and byte progress.

/** Where the worker should open a bundle from. Blobs/Files are structured-cloned, not copied. */
export type BundleSourceSpec =
  | { kind: 'url'; url: string; cache?: boolean }
  | { kind: 'files'; label: string; files: Map<string, Blob> };

export interface ProgressReport {
  loadedBytes: number;
  totalBytes: number;
  file: string;
}


// Types every worker protocol shares: where a worker opens a bundle from, and byte progress.
import type { ByteProgress } from '../base/progress.ts';

/** Where the worker should open a bundle from. Blobs/Files are structured-cloned, not copied. */
export type BundleSourceSpec =
  | { kind: 'url'; url: string; cache?: boolean }
  | { kind: 'files'; label: string; files: Map<string, Blob> };

/** Byte progress as the workers report it (the shared base type, named for the protocols). */
export type ProgressReport = ByteProgress;


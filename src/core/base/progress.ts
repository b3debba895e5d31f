// Progress callbacks shared across the core. Two shapes recur: step counts (fits, decodes,
// evaluations, simulation) and bytes read (bundles, packs, shards). Abort goes with them through
// an AbortSignal; AbortError/throwIfAborted are in ./errors.ts.

/** `done` of `total` steps; `label` names the current step (shown next to a progress bar). */
export type StepProgress = (done: number, total: number, label: string) => void;

/** Bytes read so far of all the files being loaded, and the file being read now. */
export interface ByteProgress {
  loadedBytes: number;
  totalBytes: number;
  file: string;
}

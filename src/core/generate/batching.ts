// Shapes of a pack stage's tensors per candidate, how many candidates one run of a per-candidate
// stage takes, and batch rows (repeat, concatenate). Both tensor homes batch the same way with these.
import { BundleError } from '../base/errors.ts';
import type { StageName } from './modelPack.ts';
import type { PackSessions } from './sessions.ts';

/** Values per batch row of a stage's tensor (the dims after the batch dim, which must be fixed). */
export function elementCount(sessions: PackSessions, stage: StageName, dir: 'inputs' | 'outputs', role: string): number {
  const spec = sessions.pack.manifest.stages[stage][dir][role];
  let n = 1;
  for (const d of spec.shape.slice(1)) {
    if (typeof d !== 'number') {
      throw new BundleError(sessions.pack.manifest.stages[stage].file, `dimension "${d}" must be fixed`, {
        field: `stages.${stage}.${dir}.${role}.shape`,
        expected: 'a number after the batch dimension',
      });
    }
    n *= d;
  }
  return n;
}

/** Per-candidate dims of a stage's tensor (shape after the batch dim; must be fixed). */
export function rowDims(sessions: PackSessions, stage: StageName, dir: 'inputs' | 'outputs', role: string): number[] {
  elementCount(sessions, stage, dir, role); // names a symbolic dim
  return sessions.pack.manifest.stages[stage][dir][role].shape.slice(1) as number[];
}

/** Most bytes one tensor of a batched stage run may take (stage A at 1024² is 12.6 MB an image). */
export const BATCH_RUN_BYTES = 48 * 2 ** 20;

/**
 * Candidates per run of a per-candidate stage (pixel decoder, image encoder): all of them where
 * every input and output of the run stays under BATCH_RUN_BYTES, fewer for big images, 1 for a
 * stage whose batch dimension is fixed. One run instead of one per candidate: a GPU pays its
 * dispatch and matmul tiling costs per run (SwiftShader: a 16-row MatMul costs about one 1-row one).
 */
export function rowsPerRun(sessions: PackSessions, stage: StageName, candidates: number): number {
  const spec = sessions.pack.manifest.stages[stage];
  let rowBytes = 0;
  for (const ts of [...Object.values(spec.inputs), ...Object.values(spec.outputs)]) {
    if (typeof ts.shape[0] === 'number') return Math.max(1, Math.min(candidates, ts.shape[0]));
    const rest = ts.shape.slice(1);
    if (rest.every((d): d is number => typeof d === 'number')) rowBytes = Math.max(rowBytes, 4 * rest.reduce((a, b) => a * b, 1));
  }
  return Math.max(1, Math.min(candidates, Math.floor(BATCH_RUN_BYTES / Math.max(1, rowBytes))));
}

/** `rows` copies of one row, back to back (one candidate's conditioning for the whole batch). */
export function repeatRows(row: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(row.length * rows);
  for (let i = 0; i < rows; i++) out.set(row, i * row.length);
  return out;
}

/** [a; b]: the rows of b after the rows of a (CFG's [cond; uncond] batches). */
export function concatRows(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

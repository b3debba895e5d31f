// Trial structure of the SIMULATED NSD-Imagery session: vision runs visA/visB/visC (each: its set's 6
// stimuli x 8 repeats = 48 trials), then imagery runs imgA_1, imgA_2, ... (6 x 8 each, so 16 imagery
// repeats per stimulus), order shuffled within a run; betas z-scored per voxel within each run label.
import type { Condition, StimulusSet } from '../bundle/manifest.ts';
import { VISION_REPEATS } from './dims.ts';
import type { Rng } from '../base/rng.ts';

export interface TrialPlan {
  run: string;
  stimulus: number;
  condition: Condition;
  /** k-th presentation of this stimulus in this condition (0-based). */
  repeat: number;
}

export const SET_LETTER: Record<StimulusSet, string> = { simple: 'A', complex: 'B', conceptual: 'C' };
const SET_BASE: Record<StimulusSet, number> = { simple: 0, complex: 6, conceptual: 12 };
export const RUN_ORDER = ['visA', 'visB', 'visC', 'imgA_1', 'imgA_2', 'imgB_1', 'imgB_2', 'imgC_1', 'imgC_2'] as const;

/** Every test trial of one subject, in session order. */
export function planTrials(rng: Rng): TrialPlan[] {
  const out: TrialPlan[] = [];
  const counts = new Map<string, number>();
  for (const run of RUN_ORDER) {
    const set = (Object.keys(SET_LETTER) as StimulusSet[]).find((s) => run.slice(3, 4) === SET_LETTER[s])!;
    const condition: Condition = run.startsWith('vis') ? 'vision' : 'imagery';
    const list: number[] = [];
    for (let k = 0; k < 6; k++) for (let r = 0; r < VISION_REPEATS; r++) list.push(SET_BASE[set] + k);
    const order = rng.permutation(list.length);
    for (const i of order) {
      const stim = list[i];
      const key = `${condition}:${stim}`;
      const repeat = counts.get(key) ?? 0;
      counts.set(key, repeat + 1);
      out.push({ run, stimulus: stim, condition, repeat });
    }
  }
  return out;
}

/** z-scores each voxel (column) of rows [n, nVox] over the given row indices, in place. */
export function zscoreRows(data: Float32Array, nVox: number, rows: number[]): void {
  const n = rows.length;
  const mean = new Float64Array(nVox);
  const sq = new Float64Array(nVox);
  for (const r of rows) {
    const o = r * nVox;
    for (let v = 0; v < nVox; v++) mean[v] += data[o + v];
  }
  for (let v = 0; v < nVox; v++) mean[v] /= n;
  for (const r of rows) {
    const o = r * nVox;
    for (let v = 0; v < nVox; v++) sq[v] += (data[o + v] - mean[v]) ** 2;
  }
  for (let v = 0; v < nVox; v++) sq[v] = Math.sqrt(sq[v] / n) || 1;
  for (const r of rows) {
    const o = r * nVox;
    for (let v = 0; v < nVox; v++) data[o + v] = (data[o + v] - mean[v]) / sq[v];
  }
}

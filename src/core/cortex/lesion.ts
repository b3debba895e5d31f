// The lesion profile: for each ROI, what each head's prediction loses when that ROI is silenced
// (gain 0), averaged over trials of one condition. Uses the exact linear-change engine, so a
// profile costs one baseline per trial and |ROI|·rank + rank·out per (ROI, head).
import type { Condition, HeadName } from '../bundle/manifest.ts';
import { cosine, type LinearChangeEngine } from './engine.ts';
import type { RoiEntry } from './roi.ts';

export interface LesionTrial {
  condition: Condition;
  betas: Float32Array;
}

export interface LesionCell {
  roi: string;
  head: HeadName;
  condition: Condition;
  /** Mean over trials of |Δ| / |prediction|. */
  relNorm: number;
  /** Mean over trials of 1 − cos(prediction, lesioned prediction). */
  cosineChange: number;
  trials: number;
}

export function lesionProfile(engine: LinearChangeEngine, rois: RoiEntry[], heads: HeadName[], trials: LesionTrial[], opts: { signal?: AbortSignal } = {}): LesionCell[] {
  const acc = new Map<string, LesionCell>();
  for (const t of trials) {
    opts.signal?.throwIfAborted();
    engine.setBaseline(t.betas);
    for (const roi of rois) {
      const values = new Float32Array(roi.voxels.length);
      for (let j = 0; j < values.length; j++) values[j] = -t.betas[roi.voxels[j]];
      for (const head of heads) {
        const c = engine.change(head, { indices: roi.voxels, values });
        const base = engine.baseline(head).pred;
        const key = `${roi.name}\u0000${head}\u0000${t.condition}`;
        let cell = acc.get(key);
        if (!cell) acc.set(key, (cell = { roi: roi.name, head, condition: t.condition, relNorm: 0, cosineChange: 0, trials: 0 }));
        cell.relNorm += c.relNorm;
        cell.cosineChange += 1 - cosine(base, engine.perturbed(head, c));
        cell.trials++;
      }
    }
  }
  return [...acc.values()].map((c) => ({ ...c, relNorm: c.relNorm / c.trials, cosineChange: c.cosineChange / c.trials }));
}

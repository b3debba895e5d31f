// Perturbations of a region's activity and the stack that applies them in order. Every
// perturbation is plain JSON (it names its ROI, a trial or a stimulus, never arrays), so a stack
// can be put in a URL, saved and replayed; `regionDelta` turns one into the voxel change it makes
// given the activity it is applied to.
import { z } from 'zod';
import { BundleError } from '../base/errors.ts';
import { HEAD_NAMES, type HeadName } from '../bundle/manifest.ts';
import { driveTowardTarget } from './drive.ts';
import type { LinearChangeEngine } from './engine.ts';
import { vertexDistance } from './mesh.ts';
import type { RoiSet } from './roi.ts';
import type { RegionDelta } from './types.ts';
import type { VoxelVertexMap } from './vertexMap.ts';

const roi = z.string().min(1);
export const PerturbationSchema = z.discriminatedUnion('kind', [
  /** x_R <- k · x_R (k = 0 silences the region). */
  z.object({ kind: z.literal('gain'), roi, k: z.number() }),
  /** x_R <- x_R + value. */
  z.object({ kind: z.literal('add'), roi, value: z.number() }),
  /**
   * x_i += amplitude · exp(−d²/(2σ²)) for voxels i of the region, d = Euclidean distance (mm) on the
   * FOLDED surface between the voxel's vertex and the centre vertex (same hemisphere only; voxels
   * with no vertex get nothing). Euclidean on the folded mesh, not geodesic: it is exact, cheap and
   * for σ of a few mm differs little from geodesic distance inside one region.
   */
  z.object({ kind: z.literal('blob'), roi, hemi: z.number().int().min(0).max(1), vertex: z.number().int().nonnegative(), amplitude: z.number(), sigmaMm: z.number().positive() }),
  /** x_R <- the same region's activity in another trial (e.g. the vision trial of the same stimulus). */
  z.object({ kind: z.literal('replace'), roi, trial: z.number().int().nonnegative() }),
  /** Minimum-norm region change moving `head`'s prediction toward stimulus `stimulus`'s features (see drive.ts). */
  z.object({ kind: z.literal('drive'), roi, head: z.enum(HEAD_NAMES), stimulus: z.number().int().nonnegative(), strength: z.number() }),
]);
export type Perturbation = z.infer<typeof PerturbationSchema>;

export interface PerturbContext {
  rois: RoiSet;
  /** Betas of another trial, already loaded (for 'replace'). */
  trialBetas?: (trial: number) => Float32Array;
  /** Voxel map and folded vertex positions per hemisphere (for 'blob'). */
  surface?: { map: VoxelVertexMap; folded: Float32Array[] };
  /** Engine with the heads (for 'drive'); its baseline is set by the stack. */
  engine?: LinearChangeEngine;
  /** Target features of a stimulus for a head (for 'drive'), [outSize]. */
  target?: (head: HeadName, stimulus: number) => Float32Array;
}

/** The change one perturbation makes to activity `x` (the state after earlier perturbations). */
export function regionDelta(p: Perturbation, x: Float32Array, ctx: PerturbContext, current?: (head: HeadName) => ArrayLike<number>): RegionDelta {
  const indices = ctx.rois.get(p.roi).voxels;
  const values = new Float32Array(indices.length);
  switch (p.kind) {
    case 'gain':
      for (let j = 0; j < indices.length; j++) values[j] = (p.k - 1) * x[indices[j]];
      break;
    case 'add':
      values.fill(p.value);
      break;
    case 'blob': {
      if (!ctx.surface) throw new RangeError('blob perturbation needs the subject\'s surface and voxel map');
      const { map, folded } = ctx.surface;
      const pos = folded[p.hemi];
      if (!pos || p.vertex >= pos.length / 3) throw new RangeError(`blob centre: vertex ${p.vertex} not on hemisphere ${p.hemi}`);
      const inv = 1 / (2 * p.sigmaMm * p.sigmaMm);
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        if (map.voxelHemi[i] !== p.hemi) continue;
        const d = vertexDistance(pos, map.voxelVertex[i], p.vertex);
        values[j] = p.amplitude * Math.exp(-d * d * inv);
      }
      break;
    }
    case 'replace': {
      if (!ctx.trialBetas) throw new RangeError('replace perturbation needs the other trial\'s betas');
      const other = ctx.trialBetas(p.trial);
      if (other.length !== x.length) throw new RangeError(`trial ${p.trial} has ${other.length} voxels, expected ${x.length}`);
      for (let j = 0; j < indices.length; j++) values[j] = other[indices[j]] - x[indices[j]];
      break;
    }
    case 'drive': {
      if (!ctx.engine || !ctx.target || !current) throw new RangeError('drive perturbation needs the decoder heads and the stimulus features');
      return driveTowardTarget(ctx.engine.head(p.head), indices, current(p.head), ctx.target(p.head, p.stimulus), p.strength);
    }
  }
  return { indices, values };
}

export interface StackResult {
  /** Activity after every perturbation. */
  x: Float32Array;
  /** x − x0 on the union of the touched regions. */
  total: RegionDelta;
  /** The change each perturbation made. */
  steps: RegionDelta[];
}

/** Perturbations applied in order; undo pops the last, reset clears. */
export class PerturbationStack {
  private items: Perturbation[] = [];

  constructor(items: Perturbation[] = []) {
    for (const p of items) this.push(p);
  }

  get list(): readonly Perturbation[] {
    return this.items;
  }

  get length(): number {
    return this.items.length;
  }

  push(p: Perturbation): void {
    this.items.push(PerturbationSchema.parse(p));
  }

  /** Replaces the last perturbation (a slider dragging the newest one). */
  replaceLast(p: Perturbation): void {
    if (!this.items.length) throw new RangeError('replaceLast on an empty stack');
    this.items[this.items.length - 1] = PerturbationSchema.parse(p);
  }

  undo(): Perturbation | undefined {
    return this.items.pop();
  }

  reset(): void {
    this.items = [];
  }

  toJSON(): Perturbation[] {
    return this.items.map((p) => ({ ...p }));
  }

  static fromJSON(json: unknown, file = 'perturbations'): PerturbationStack {
    const parsed = z.array(PerturbationSchema).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)';
      throw new BundleError(file, issue.message, { field });
    }
    return new PerturbationStack(parsed.data);
  }

  /** Applies the stack to x0 (not modified). 'drive' steps see the prediction of the state so far. */
  apply(x0: Float32Array, ctx: PerturbContext): StackResult {
    const x = Float32Array.from(x0);
    const touched = new Uint8Array(x0.length);
    const steps: RegionDelta[] = [];
    const engine = ctx.engine;
    if (engine) engine.setBaseline(x0);
    for (const p of this.items) {
      const current = engine
        ? (head: HeadName) => {
            const base = engine.baseline(head).raw;
            if (!steps.length) return base;
            const c = engine.change(head, collect(x, x0, touched));
            return Float64Array.from(base, (v, j) => v + c.delta[j]);
          }
        : undefined;
      const d = regionDelta(p, x, ctx, current);
      for (let j = 0; j < d.indices.length; j++) {
        x[d.indices[j]] += d.values[j];
        touched[d.indices[j]] = 1;
      }
      steps.push(d);
    }
    return { x, total: collect(x, x0, touched), steps };
  }
}

function collect(x: Float32Array, x0: Float32Array, touched: Uint8Array): RegionDelta {
  let n = 0;
  for (let i = 0; i < touched.length; i++) n += touched[i];
  const indices = new Int32Array(n);
  const values = new Float32Array(n);
  let k = 0;
  for (let i = 0; i < touched.length; i++) {
    if (!touched[i]) continue;
    indices[k] = i;
    values[k++] = x[i] - x0[i];
  }
  return { indices, values };
}

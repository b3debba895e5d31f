// One subject's cortex explorer state, framework-free: surfaces and the voxel map, ROIs (bundle +
// user), decoder heads in the linear-change engine, the trial being perturbed, the perturbation
// stack, and every number the cortex view shows. workers/cortex.worker.ts is a thin comlink face
// over this class; tests drive it in Node with a demo bundle.
import type { Bundle } from '../bundle/loader.ts';
import type { Condition, HeadName, Subject } from '../bundle/manifest.ts';
import { BundleError } from '../bundle/errors.ts';
import { averageTrialBetas } from '../decode/trials.ts';
import { loadHead } from '../decode/predict.ts';
import { LinearChangeEngine, cosineToEach, rankOf } from './engine.ts';
import { lesionProfile, type LesionCell } from './lesion.ts';
import { boundaryVertices, verticesWithin } from './mesh.ts';
import { PerturbationStack, type Perturbation, type StackResult } from './perturb.ts';
import { RoiSet, parseRoiFile, union, type RoiFile } from './roi.ts';
import { sortedUnique } from './types.ts';
import { VoxelVertexMap } from './vertexMap.ts';

export type CortexBundle = Pick<Bundle, 'manifest' | 'floats' | 'trialBetas' | 'roiVoxels' | 'voxelToVertex' | 'surfaceFaces' | 'subject'> & {
  tensor: Bundle['tensor'];
};

export type ShapeName = 'folded' | 'inflated' | 'flat';

export interface HemiGeometry {
  hemi: 'lh' | 'rh';
  vertexCount: number;
  faces: Uint32Array;
  shapes: Partial<Record<ShapeName, Float32Array>>;
}

export interface RoiInfo {
  name: string;
  color: string;
  group: 'early' | 'higher' | 'other';
  source: 'bundle' | 'user';
  voxelCount: number;
  /** Outline vertices per hemisphere (lh, rh). */
  boundary: [Int32Array, Int32Array];
  /** Per hemisphere, 1 for each vertex that shows one of the ROI's voxels (for drawing contours). */
  mask: [Uint8Array, Uint8Array];
  /** Vertex with the most central position of the ROI per hemisphere, for its label (-1 if absent). */
  labelVertex: [number, number];
}

export interface HeadSummary {
  head: HeadName;
  relNorm: number;
}

export interface CortexUpdate {
  heads: HeadSummary[];
  /** Image-head cosine similarity to each stimulus (rows of the 'stimuli' feature set), before/after. */
  stimulusIds: number[];
  cosBefore: number[];
  cosAfter: number[];
  /** Identification rank (1 = best) of the trial's true stimulus among the stimuli, before/after. */
  rankBefore: number | null;
  rankAfter: number | null;
  /** Number of voxels changed and |dx|. */
  changedVoxels: number;
  dxNorm: number;
  /** The perturbed predictions of each head ([outSize] each), e.g. for a low-level re-decode. */
  predictions: Partial<Record<HeadName, Float32Array>>;
  /** Milliseconds spent applying the stack and computing the changes. */
  ms: number;
}

export type OverlayKind = { kind: 'betas' } | { kind: 'perturbation' } | { kind: 'weights'; head: HeadName; dim?: number } | { kind: 'none' };

export class CortexSession {
  readonly subject: Subject;
  readonly voxelCount: number;
  readonly geometry: HemiGeometry[];
  readonly map: VoxelVertexMap | null;
  readonly rois: RoiSet;
  readonly engine: LinearChangeEngine;
  readonly stack = new PerturbationStack();
  private readonly bundle: CortexBundle;
  private x0: Float32Array | null = null;
  private trialIndices: number[] = [];
  private trueStimulus: number | null = null;
  private readonly otherTrials = new Map<number, Float32Array>();
  private stimFeatures: { ids: number[]; values: Float32Array } | null = null;
  private last: StackResult | null = null;

  private constructor(bundle: CortexBundle, subject: Subject, geometry: HemiGeometry[], map: VoxelVertexMap | null, rois: RoiSet, engine: LinearChangeEngine) {
    this.bundle = bundle;
    this.subject = subject;
    this.voxelCount = subject.voxelCount;
    this.geometry = geometry;
    this.map = map;
    this.rois = rois;
    this.engine = engine;
  }

  static async open(bundle: CortexBundle, subjectId: number, opts: { heads?: HeadName[] } = {}): Promise<CortexSession> {
    const s = bundle.subject(subjectId);
    const geometry: HemiGeometry[] = [];
    for (const hemi of ['lh', 'rh'] as const) {
      const surf = s.surfaces.find((x) => x.hemi === hemi);
      if (!surf) continue;
      const shapes: HemiGeometry['shapes'] = {};
      for (const k of ['folded', 'inflated', 'flat'] as const) {
        const ref = surf.shapes[k];
        if (ref) shapes[k] = await bundle.floats(ref);
      }
      geometry.push({ hemi, vertexCount: surf.vertexCount, faces: await bundle.surfaceFaces(subjectId, hemi), shapes });
    }
    const v2v = geometry.length === 2 ? await bundle.voxelToVertex(subjectId) : null;
    const map = v2v
      ? new VoxelVertexMap(v2v, s.voxelCount, geometry.map((g) => ({ vertexCount: g.vertexCount, faces: Int32Array.from(g.faces) })), 'manifest.json: voxelToVertex')
      : null;
    const rois = new RoiSet(s.voxelCount);
    for (const r of s.rois) rois.add({ name: r.name, color: r.color, group: r.group, source: 'bundle', voxels: await bundle.roiVoxels(subjectId, r.name) });
    const wanted = opts.heads ?? s.heads.map((h) => h.name);
    const heads = [];
    for (const h of s.heads) if (wanted.includes(h.name)) heads.push(await loadHead(bundle, h));
    const session = new CortexSession(bundle, s, geometry, map, rois, new LinearChangeEngine(heads, s.voxelCount));
    const feat = bundle.manifest.features.find((f) => f.name === 'stimuli' && f.head === 'image');
    if (feat && heads.some((h) => h.spec.name === 'image')) session.stimFeatures = { ids: feat.ids, values: await bundle.floats(feat.values) };
    return session;
  }

  /** The activity to perturb: one trial or the mean of several (same stimulus and condition). */
  async setTrials(trials: number[]): Promise<void> {
    if (!trials.length) throw new RangeError('setTrials: no trials');
    for (const t of trials) {
      const tr = this.bundle.manifest.trials[t];
      if (!tr || tr.subject !== this.subject.id) throw new BundleError('manifest.json', `trial ${t} is not a trial of subject ${this.subject.id}`, { field: `trials[${t}]` });
    }
    this.x0 = await averageTrialBetas(this.bundle, trials);
    this.trialIndices = [...trials];
    this.trueStimulus = this.bundle.manifest.trials[trials[0]].stimulus;
    this.engine.setBaseline(this.x0);
    this.last = null;
  }

  get baseline(): Float32Array {
    if (!this.x0) throw new Error('CortexSession: setTrials() first');
    return this.x0;
  }

  setStack(items: Perturbation[]): void {
    const next = PerturbationStack.fromJSON(items, 'perturbation stack');
    this.stack.reset();
    for (const p of next.list) this.stack.push(p);
    this.last = null;
  }

  /** Applies the stack to the trial and returns every number the view shows. */
  async update(): Promise<CortexUpdate> {
    const x0 = this.baseline;
    for (const p of this.stack.list) {
      if (p.kind === 'replace' && !this.otherTrials.has(p.trial)) {
        const tr = this.bundle.manifest.trials[p.trial];
        if (!tr || tr.subject !== this.subject.id) throw new RangeError(`replace: trial ${p.trial} is not a trial of subject ${this.subject.id}`);
        this.otherTrials.set(p.trial, await this.bundle.trialBetas(p.trial));
      }
    }
    const t0 = performance.now();
    const res = this.stack.apply(x0, {
      rois: this.rois,
      engine: this.engine,
      trialBetas: (t) => this.otherTrials.get(t)!,
      surface: this.map ? { map: this.map, folded: this.geometry.map((g) => g.shapes.folded!) } : undefined,
      target: (head, stim) => this.targetFeatures(head, stim),
    });
    this.engine.setBaseline(x0);
    this.last = res;
    const heads: HeadSummary[] = [];
    const predictions: CortexUpdate['predictions'] = {};
    let image: { before: Float32Array; after: Float32Array } | null = null;
    for (const name of this.engine.headNames) {
      const c = this.engine.change(name, res.total);
      heads.push({ head: name, relNorm: c.relNorm });
      predictions[name] = this.engine.perturbed(name, c);
      if (name === 'image') image = { before: this.engine.baseline(name).pred, after: predictions[name]! };
    }
    let cosBefore: number[] = [];
    let cosAfter: number[] = [];
    let rankBefore: number | null = null;
    let rankAfter: number | null = null;
    const ids = this.stimFeatures?.ids ?? [];
    if (image && this.stimFeatures) {
      cosBefore = Array.from(cosineToEach(image.before, this.stimFeatures.values, ids.length));
      cosAfter = Array.from(cosineToEach(image.after, this.stimFeatures.values, ids.length));
      const row = this.trueStimulus === null ? -1 : ids.indexOf(this.trueStimulus);
      if (row >= 0) {
        rankBefore = rankOf(cosBefore, row);
        rankAfter = rankOf(cosAfter, row);
      }
    }
    let dx2 = 0;
    for (const v of res.total.values) dx2 += v * v;
    return { heads, stimulusIds: ids, cosBefore, cosAfter, rankBefore, rankAfter, changedVoxels: res.total.indices.length, dxNorm: Math.sqrt(dx2), predictions, ms: performance.now() - t0 };
  }

  targetFeatures(head: HeadName, stimulus: number): Float32Array {
    const f = this.bundle.manifest.features.find((x) => x.name === 'stimuli' && x.head === head);
    if (!f || head !== 'image' || !this.stimFeatures) throw new RangeError(`drive: the bundle has no stimulus features for head "${head}"`);
    const row = this.stimFeatures.ids.indexOf(stimulus);
    if (row < 0) throw new RangeError(`drive: no features for stimulus ${stimulus}`);
    const dim = this.stimFeatures.values.length / this.stimFeatures.ids.length;
    return this.stimFeatures.values.subarray(row * dim, (row + 1) * dim);
  }

  /** Per-voxel values of an overlay. */
  voxelOverlay(o: OverlayKind): Float32Array | null {
    switch (o.kind) {
      case 'none':
        return null;
      case 'betas':
        return this.last?.x ?? this.baseline;
      case 'perturbation': {
        const out = new Float32Array(this.voxelCount);
        if (this.last) this.last.total.indices.forEach((v, j) => (out[v] = this.last!.total.values[j]));
        return out;
      }
      case 'weights':
        return weightMap(this.engine, o.head, o.dim);
    }
  }

  /** Per-vertex overlay values per hemisphere (NaN where no voxel is near). */
  vertexOverlay(o: OverlayKind): Float32Array[] | null {
    const v = this.voxelOverlay(o);
    if (!v || !this.map) return null;
    return this.geometry.map((_, h) => this.map!.vertexValues(v, h));
  }

  roiInfo(): RoiInfo[] {
    return this.rois.list().map((r) => {
      const boundary: [Int32Array, Int32Array] = [new Int32Array(0), new Int32Array(0)];
      const masks: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
      const labelVertex: [number, number] = [-1, -1];
      if (this.map) {
        for (let h = 0; h < this.geometry.length; h++) {
          const mask = this.map.vertexMask(r.voxels, h);
          boundary[h] = boundaryVertices(this.map.hemis[h].graph, mask);
          masks[h] = mask;
          labelVertex[h] = centralVertex(mask, this.geometry[h].shapes.folded!);
        }
      }
      return { name: r.name, color: r.color, group: r.group, source: r.source, voxelCount: r.voxels.length, boundary, mask: masks, labelVertex };
    });
  }

  /** What is under the pointer: the vertex's voxel(s), ROIs and overlay value. */
  pick(hemi: number, vertex: number, o: OverlayKind = { kind: 'betas' }): { voxels: number[]; rois: string[]; value: number | null } {
    if (!this.map) return { voxels: [], rois: [], value: null };
    const voxels = Array.from(this.map.voxelsAtVertex(hemi, vertex));
    const rois = voxels.length ? this.rois.roisOfVoxel(voxels[0]) : [];
    const vals = this.voxelOverlay(o);
    const value = vals && voxels.length ? voxels.reduce((a, v) => a + vals[v], 0) / voxels.length : null;
    return { voxels, rois, value };
  }

  /** Voxels under a brush stroke: all vertices within `radiusMm` (on `shape`) of the stroke's vertices. */
  brushVoxels(hemi: number, centres: number[], radiusMm: number, shape: ShapeName = 'folded'): Int32Array {
    if (!this.map) return new Int32Array(0);
    const pos = this.geometry[hemi].shapes[shape] ?? this.geometry[hemi].shapes.folded!;
    const verts = new Set<number>();
    for (const c of centres) for (const v of verticesWithin(pos, c, radiusMm)) verts.add(v);
    return this.map.voxelsOfVertices(hemi, [...verts]);
  }

  addUserRoi(name: string, color: string, voxels: ArrayLike<number>): void {
    this.rois.add({ name, color, group: 'other', source: 'user', voxels: sortedUnique(voxels) });
  }

  /** Adds voxels to a user ROI (created if new): one brush stroke. Returns the ROI's size. */
  paintUserRoi(name: string, color: string, voxels: ArrayLike<number>): number {
    const prev = this.rois.has(name) ? this.rois.get(name) : null;
    if (prev && prev.source === 'bundle') throw new RangeError(`"${name}" is a bundle ROI; choose another name for a drawn ROI`);
    const merged = prev ? union(prev.voxels, sortedUnique(voxels)) : sortedUnique(voxels);
    this.rois.add({ name, color: prev?.color ?? color, group: 'other', source: 'user', voxels: merged });
    return merged.length;
  }

  importRois(json: string | unknown, file = 'rois.json'): string[] {
    const entries = parseRoiFile(json, { subject: this.subject.id, voxelCount: this.voxelCount }, file);
    for (const e of entries) this.rois.add(e);
    return entries.map((e) => e.name);
  }

  exportRois(): RoiFile {
    return this.rois.exportUser(this.subject.id);
  }

  /** Lesion profile over the trials of a stimulus in each condition (all repeats). */
  async lesion(stimulus: number, conditions: Condition[] = ['vision', 'imagery'], opts: { signal?: AbortSignal } = {}): Promise<LesionCell[]> {
    const trials = [];
    const m = this.bundle.manifest;
    for (let i = 0; i < m.trials.length; i++) {
      const t = m.trials[i];
      if (t.subject === this.subject.id && t.stimulus === stimulus && conditions.includes(t.condition)) {
        trials.push({ condition: t.condition, betas: await this.bundle.trialBetas(i, opts) });
      }
    }
    const rois = this.rois.list().filter((r) => r.source === 'bundle' || r.voxels.length > 0);
    const cells = lesionProfile(this.engine, rois, this.engine.headNames, trials, opts);
    if (this.x0) this.engine.setBaseline(this.x0);
    return cells;
  }

  get trials(): number[] {
    return this.trialIndices;
  }
}

/**
 * A head's weight map per voxel: the row norm of A·B (|A_i·B|, via A_i (B Bᵀ) A_iᵀ) or, for one
 * output dimension d, A_i·B[:, d].
 */
export function weightMap(engine: LinearChangeEngine, head: HeadName, dim?: number): Float32Array {
  const h = engine.head(head);
  const r = h.spec.rank;
  const n = h.B.length / r;
  const nv = h.A.length / r;
  const out = new Float32Array(nv);
  if (dim !== undefined) {
    if (dim < 0 || dim >= n) throw new RangeError(`weight map: dimension ${dim} outside [0, ${n})`);
    for (let i = 0; i < nv; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += h.A[i * r + k] * h.B[k * n + dim];
      out[i] = s;
    }
    return out;
  }
  const g = new Float64Array(r * r);
  for (let a = 0; a < r; a++) {
    for (let b = a; b < r; b++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += h.B[a * n + j] * h.B[b * n + j];
      g[a * r + b] = g[b * r + a] = s;
    }
  }
  for (let i = 0; i < nv; i++) {
    let s = 0;
    for (let a = 0; a < r; a++) {
      const ia = h.A[i * r + a];
      if (ia === 0) continue;
      let t = 0;
      for (let b = 0; b < r; b++) t += g[a * r + b] * h.A[i * r + b];
      s += ia * t;
    }
    out[i] = Math.sqrt(Math.max(s, 0));
  }
  return out;
}

/** The masked vertex nearest the mask's centroid (a place to put its label); -1 for an empty mask. */
function centralVertex(mask: Uint8Array, pos: Float32Array): number {
  let cx = 0;
  let cy = 0;
  let cz = 0;
  let n = 0;
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    cx += pos[3 * v];
    cy += pos[3 * v + 1];
    cz += pos[3 * v + 2];
    n++;
  }
  if (!n) return -1;
  cx /= n;
  cy /= n;
  cz /= n;
  let best = -1;
  let bd = Infinity;
  for (let v = 0; v < mask.length; v++) {
    if (!mask[v]) continue;
    const d = (pos[3 * v] - cx) ** 2 + (pos[3 * v + 1] - cy) ** 2 + (pos[3 * v + 2] - cz) ** 2;
    if (d < bd) {
      bd = d;
      best = v;
    }
  }
  return best;
}

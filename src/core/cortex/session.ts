// One subject's cortex explorer state, framework-free: surfaces and the voxel map, ROIs (bundle +
// user), decoder heads in the linear-change engine, the trial being perturbed, the perturbation
// stack, and every number the cortex view shows. workers/cortex.worker.ts is a thin comlink face
// over this class; tests drive it in Node with a demo bundle.
import type { Bundle } from '../bundle/loader.ts';
import type { Condition, HeadName, Subject } from '../bundle/manifest.ts';
import { BundleError } from '../base/errors.ts';
import { averageTrialBetas } from '../decode/trials.ts';
import { loadHead } from '../decode/predict.ts';
import { LinearChangeEngine, cosineToEach, rankOf, type HeadChange } from './engine.ts';
import type { RegionBackendInfo, RegionProduct } from './tfRegion.ts';
import { lesionProfile, type LesionCell } from './lesion.ts';
import { boundaryVertices, verticesWithin } from './mesh.ts';
import { PerturbationStack, type Perturbation, type StackResult } from './perturb.ts';
import { RoiSet, parseRoiFile, union, type RoiFile } from './roi.ts';
import { sortedUnique, type RegionDelta } from './types.ts';
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
  /** Where the head changes were computed. */
  backend: RegionBackendInfo;
}

/** The plain-JS engine as a backend description (the default, and the last fallback). */
export const JS_REGION_BACKEND: RegionBackendInfo = { name: 'js', detail: 'plain JavaScript reference (float64 accumulation)', software: false, fallbacks: [] };

/** Raw changes of one stimulus's head predictions (the units of decode's predictHead) for the stack. */
export interface StimulusHeadDeltas {
  stimulus: number;
  condition: Condition;
  /** The repeats whose mean activity was perturbed (as MIRAGE decodes a stimulus). */
  trials: number[];
  deltas: Partial<Record<HeadName, Float32Array>>;
  /** Relative norm of each head's change. */
  relNorm: Partial<Record<HeadName, number>>;
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
  private product: RegionProduct | null = null;
  private backendInfo: RegionBackendInfo = JS_REGION_BACKEND;

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
    await this.loadReplaceTrials();
    const t0 = performance.now();
    const res = this.applyStack(x0);
    this.last = res;
    const heads: HeadSummary[] = [];
    const predictions: CortexUpdate['predictions'] = {};
    let image: { before: Float32Array; after: Float32Array } | null = null;
    for (const name of this.engine.headNames) {
      const c = await this.headChange(name, res.total);
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
    return { heads, stimulusIds: ids, cosBefore, cosAfter, rankBefore, rankAfter, changedVoxels: res.total.indices.length, dxNorm: Math.sqrt(dx2), predictions, ms: performance.now() - t0, backend: this.backend };
  }

  /** Runs the head changes on `product` (a tfjs backend) from now on; null: the plain-JS engine. */
  setRegionProduct(product: RegionProduct | null, info: RegionBackendInfo): void {
    this.product = product;
    this.backendInfo = product ? info : { ...JS_REGION_BACKEND, fallbacks: info.fallbacks };
  }

  get backend(): RegionBackendInfo {
    return this.backendInfo;
  }

  /**
   * One head's exact change on the region-product backend; if the device fails mid-session (lost
   * WebGPU device, out of memory) the session moves to the plain-JS engine for good and says why.
   */
  async headChange(name: HeadName, d: RegionDelta): Promise<HeadChange> {
    if (this.product) {
      try {
        return await this.engine.changeOn(this.product, name, d);
      } catch (e) {
        const why = `${this.backendInfo.name}: ${e instanceof Error ? e.message : String(e)}`;
        this.product = null;
        this.backendInfo = { ...JS_REGION_BACKEND, fallbacks: [...this.backendInfo.fallbacks, why] };
      }
    }
    return this.engine.change(name, d);
  }

  /** Fetches the other trials `replace` perturbations of the stack read. */
  private async loadReplaceTrials(): Promise<void> {
    for (const p of this.stack.list) {
      if (p.kind === 'replace' && !this.otherTrials.has(p.trial)) {
        const tr = this.bundle.manifest.trials[p.trial];
        if (!tr || tr.subject !== this.subject.id) throw new RangeError(`replace: trial ${p.trial} is not a trial of subject ${this.subject.id}`);
        this.otherTrials.set(p.trial, await this.bundle.trialBetas(p.trial));
      }
    }
  }

  /** Applies the stack to `x` (the engine's baseline is `x` afterwards). */
  private applyStack(x: Float32Array): StackResult {
    const res = this.stack.apply(x, {
      rois: this.rois,
      engine: this.engine,
      trialBetas: (t) => this.otherTrials.get(t)!,
      surface: this.map ? { map: this.map, folded: this.geometry.map((g) => g.shapes.folded!) } : undefined,
      target: (head, stim) => this.targetFeatures(head, stim),
    });
    this.engine.setBaseline(x);
    return res;
  }

  /** The stack applied to the current trial(s): the total change and every head's exact change. */
  async currentChanges(heads: HeadName[] = this.engine.headNames): Promise<{ res: StackResult; changes: Map<HeadName, HeadChange> }> {
    await this.loadReplaceTrials();
    const res = this.applyStack(this.baseline);
    const changes = new Map<HeadName, HeadChange>();
    for (const h of heads) changes.set(h, await this.headChange(h, res.total));
    return { res, changes };
  }

  /**
   * The stack's raw head changes for a stimulus the way a reconstruction decodes it: the mean of
   * the subject's repeats of `stimulus` in `condition`, perturbed by the stack, each head's exact
   * change (decode(x̄ + dx) − decode(x̄), before MIRAGE's batch normalisation) — what the generate
   * service's `headDeltas` takes. The session's own trial(s) stay the baseline afterwards.
   */
  async headDeltas(stimulus: number, condition: Condition): Promise<StimulusHeadDeltas> {
    const m = this.bundle.manifest;
    const trials: number[] = [];
    m.trials.forEach((t, i) => {
      if (t.subject === this.subject.id && t.stimulus === stimulus && t.condition === condition) trials.push(i);
    });
    if (!trials.length) throw new BundleError('manifest.json', `subject ${this.subject.id} has no ${condition} trials of stimulus ${stimulus}`, { field: 'trials' });
    const x0 = this.baseline;
    const same = trials.length === this.trialIndices.length && trials.every((t, i) => t === this.trialIndices[i]);
    const x = same ? x0 : await averageTrialBetas(this.bundle, trials);
    await this.loadReplaceTrials();
    const deltas: StimulusHeadDeltas['deltas'] = {};
    const relNorm: StimulusHeadDeltas['relNorm'] = {};
    try {
      this.engine.setBaseline(x);
      const res = this.applyStack(x);
      for (const name of this.engine.headNames) {
        const c = await this.headChange(name, res.total);
        deltas[name] = c.delta;
        relNorm[name] = c.relNorm;
      }
    } finally {
      this.engine.setBaseline(x0);
    }
    return { stimulus, condition, trials, deltas, relNorm };
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

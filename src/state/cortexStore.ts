// The cortex panel's one store: what the user set (surface, overlay, ROI, perturbation stack,
// camera, presentation — the part that round-trips through the URL, see cortexUrl.ts), the panel's
// own controls (tool, brush, blob centre, lesion chart choices), and what the cortex worker has
// reported (the subject's surfaces and ROIs, the overlay values, the latest update, the lesion
// profile). src/app/cortex's hooks write worker replies here; components only read and `set`.
// Worker results carry the key they were computed for (bundle|subject[#trials]); a value whose key
// is not the current one reads as "not loaded yet", so nothing has to be reset when the selection
// changes and a late reply for an old selection can never show.
import { create } from 'zustand';
import type { HeadName } from '../core/bundle/manifest.ts';
import type { Perturbation } from '../core/cortex/perturb.ts';
import type { CortexUpdateWithLowLevel, LesionCell, PickInfo, RoiInfo, SubjectView } from '../core/cortex/protocol.ts';

export type CortexShape = 'folded' | 'inflated' | 'flat';
export type CortexOverlay = { kind: 'betas' } | { kind: 'perturbation' } | { kind: 'weights'; head: HeadName; dim?: number } | { kind: 'none' };

export interface CortexCamera {
  position: [number, number, number];
  target: [number, number, number];
}

/** The view as a link holds it (cortexUrl.ts reads and writes exactly these fields). */
export interface CortexViewState {
  shape: CortexShape;
  overlay: CortexOverlay;
  roi: string | null;
  /** The committed perturbations followed by the one being edited (if any). */
  stack: Perturbation[];
  /** Whether the last item of `stack` is a draft still being edited by the sliders. */
  draft: boolean;
  camera: CortexCamera | null;
  presentation: boolean;
}

export type CanvasTool = 'select' | 'brush' | 'blob';

export interface Brush {
  name: string;
  color: string;
  radius: number;
}

/** A surface point under the pointer: the worker's pick plus where to draw the tooltip. */
export interface HoverInfo extends PickInfo {
  hemi: number;
  vertex: number;
  x: number;
  y: number;
}

/** The panel's own controls (not in the URL). */
export interface CortexControls {
  tool: CanvasTool;
  brush: Brush;
  blobCentre: { hemi: number; vertex: number } | null;
  lesionHead: HeadName;
  lesionMetric: 'relNorm' | 'cosineChange';
  hover: HoverInfo | null;
}

/** Per-vertex overlay values for both hemispheres, tagged with the update they were read after. */
export interface OverlayValues {
  key: string;
  overlay: CortexOverlay;
  values: Float32Array[] | null;
}

/** What the cortex worker reported, each tagged with the selection it belongs to. */
export interface CortexWorkerState {
  /** The subject's surfaces, heads and ROIs as loaded for `key` (bundle|subject). */
  loaded: { key: string; view: SubjectView; rois: RoiInfo[] } | null;
  /** The ROIs after the user drew, removed or imported some (same key rule). */
  roisEdited: { key: string; rois: RoiInfo[] } | null;
  /** The bundle|subject#trials the worker's trials are set to. */
  readyFor: string | null;
  /** The newest perturbation update, and the bundle|subject#trials it was computed for. */
  update: CortexUpdateWithLowLevel | null;
  updateFor: string | null;
  overlayValues: OverlayValues | null;
  lesion: { key: string; cells: LesionCell[] } | null;
  error: string | null;
}

export type CortexState = CortexViewState & CortexControls & CortexWorkerState;

export interface CortexStore extends CortexState {
  set(patch: Partial<CortexState>): void;
}

export const DEFAULT_CORTEX: CortexViewState = {
  shape: 'inflated',
  overlay: { kind: 'betas' },
  roi: null,
  stack: [],
  draft: false,
  camera: null,
  presentation: false,
};

export const DEFAULT_CONTROLS: CortexControls = {
  tool: 'select',
  brush: { name: 'drawn 1', color: '#2dd4bf', radius: 6 },
  blobCentre: null,
  lesionHead: 'image',
  lesionMetric: 'relNorm',
  hover: null,
};

const NO_WORKER_STATE: CortexWorkerState = { loaded: null, roisEdited: null, readyFor: null, update: null, updateFor: null, overlayValues: null, lesion: null, error: null };

export const useCortexStore = create<CortexStore>()((set) => ({
  ...DEFAULT_CORTEX,
  ...DEFAULT_CONTROLS,
  ...NO_WORKER_STATE,
  set(patch) {
    set(patch);
  },
}));

const NO_ROIS: RoiInfo[] = [];

/** The ROIs shown for `subjectKey`: the user's edits if any, else the subject's as loaded. */
export function roisFor(s: Pick<CortexState, 'loaded' | 'roisEdited'>, subjectKey: string): RoiInfo[] {
  if (s.roisEdited?.key === subjectKey) return s.roisEdited.rois;
  return s.loaded?.key === subjectKey ? s.loaded.rois : NO_ROIS;
}

/** The loaded subject view for `subjectKey`, or null while it is (re)loading. */
export function viewFor(s: Pick<CortexState, 'loaded'>, subjectKey: string): SubjectView | null {
  return s.loaded?.key === subjectKey ? s.loaded.view : null;
}

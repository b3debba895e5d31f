// Types shared by the cortex worker and its page-side client (no code).
import type { HeadName } from '../bundle/manifest.ts';
import type { Condition } from '../bundle/manifest.ts';
import type { CortexUpdate, HemiGeometry, OverlayKind, RoiInfo, ShapeName, StimulusHeadDeltas } from './session.ts';
import type { RegionBackendInfo } from './tfRegion.ts';
import type { BackendName } from '../decode/backend.ts';
import type { LesionCell } from './lesion.ts';
import type { Perturbation } from './perturb.ts';
import type { RoiFile } from './roi.ts';
import type { LowLevelImages } from './lowLevel.ts';
import type { BundleSourceSpec } from '../decode/protocol.ts';

export type { CortexUpdate, HemiGeometry, OverlayKind, RoiInfo, ShapeName, LesionCell, Perturbation, RoiFile, RegionBackendInfo, StimulusHeadDeltas, BackendName };

export interface SubjectView {
  subject: number;
  voxelCount: number;
  geometry: HemiGeometry[];
  rois: RoiInfo[];
  heads: Array<{ name: HeadName; outputShape: number[]; rank: number; role: string }>;
  hasVoxelMap: boolean;
  /** Where the head changes run (tfjs webgpu / wasm / cpu, or the plain-JS engine). */
  backend: RegionBackendInfo;
}

/** The low-level images of an update, or why there are none. */
export type LowLevelResult = ({ available: true } & LowLevelImages) | { available: false; reason: string };

/** An update plus the low-level image decoded before and after the perturbation. */
export type CortexUpdateWithLowLevel = CortexUpdate & { lowLevel: LowLevelResult };

export interface PickInfo {
  voxels: number[];
  rois: string[];
  value: number | null;
}

/** What the browser test needs to recompute a head's change in the page (the CPU reference). */
export interface ReferenceInputs {
  /** The backend that computed `factored`. */
  backend: RegionBackendInfo;
  x0: Float32Array;
  x1: Float32Array;
  A: Float32Array;
  B: Float32Array;
  intercept: Float32Array;
  rank: number;
  outputShape: number[];
  inputNorm: 'none' | 'l2';
  outputNorm: 'none' | 'l2-token';
  /** The engine's factored change for the same stack. */
  factored: Float32Array;
}

export interface CortexWorkerApi {
  open(source: BundleSourceSpec): Promise<void>;
  loadSubject(subject: number): Promise<SubjectView>;
  setTrials(trials: number[]): Promise<void>;
  /**
   * Replaces the perturbation stack and returns the update, with the perturbed blurry head
   * re-decoded by the bundle's low-level decoder (the unperturbed image decoded once per trial).
   */
  setStack(items: Perturbation[]): Promise<CortexUpdateWithLowLevel>;
  /** Per-hemisphere vertex values of an overlay (NaN: nothing mapped), or null. */
  overlay(kind: OverlayKind): Promise<Float32Array[] | null>;
  pick(hemi: number, vertex: number, overlay: OverlayKind): Promise<PickInfo>;
  brushVoxels(hemi: number, centres: number[], radiusMm: number, shape: ShapeName): Promise<number[]>;
  /** One brush stroke: the voxels under `centres` (radius on `shape`) join user ROI `name`; returns every ROI. */
  paintRoi(name: string, color: string, hemi: number, centres: number[], radiusMm: number, shape: ShapeName): Promise<RoiInfo[]>;
  /** Adds (or replaces) a user ROI and returns every ROI. */
  addUserRoi(name: string, color: string, voxels: number[]): Promise<RoiInfo[]>;
  removeUserRoi(name: string): Promise<RoiInfo[]>;
  importRois(json: string, file: string): Promise<RoiInfo[]>;
  exportRois(): Promise<RoiFile>;
  lesion(stimulus: number): Promise<LesionCell[]>;
  reference(head: HeadName): Promise<ReferenceInputs>;
  /** Restarts the head-change backend with this order (tests and the browser benchmark); returns what runs. */
  useBackends(order: BackendName[]): Promise<RegionBackendInfo>;
  /**
   * The current stack's raw head changes for `stimulus` in `condition` (the mean of its repeats,
   * as a reconstruction decodes it): the generate service's `headDeltas`.
   */
  headDeltas(stimulus: number, condition: Condition): Promise<StimulusHeadDeltas>;
}

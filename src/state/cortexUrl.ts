// The URL codec of the cortex view (shape, overlay, selected ROI, perturbation stack, camera,
// presentation mode: the CortexViewState part of src/state/cortexStore.ts), registered with the
// app's selection<->URL sync (url.ts).
// Together with the selection's keys (subject, stimulus, condition, trial) and ?bundle=, the URL
// holds the whole view, so a talk can jump between prepared views.
import { PerturbationStack } from '../core/cortex/perturb.ts';
import { HEAD_NAMES, type HeadName } from '../core/bundle/manifest.ts';
import { DEFAULT_CORTEX, useCortexStore, type CortexCamera, type CortexOverlay, type CortexShape, type CortexState, type CortexViewState } from './cortexStore.ts';
import type { UrlCodec } from './url.ts';

// The store lives in cortexStore.ts; these names stay importable from here for the codec's users.
export { DEFAULT_CORTEX, useCortexStore };
export type { CortexCamera, CortexOverlay, CortexShape, CortexViewState };

const VIEW_KEYS = Object.keys(DEFAULT_CORTEX) as (keyof CortexViewState & keyof CortexState)[];

const SHAPES: readonly CortexShape[] = ['folded', 'inflated', 'flat'];

export function overlayToParam(o: CortexOverlay): string {
  return o.kind === 'weights' ? `weights:${o.head}${o.dim !== undefined ? `:${o.dim}` : ''}` : o.kind;
}

export function overlayFromParam(v: string | null): CortexOverlay | undefined {
  if (v === 'betas' || v === 'perturbation' || v === 'none') return { kind: v };
  const m = /^weights:([a-z]+)(?::(\d+))?$/.exec(v ?? '');
  if (m && (HEAD_NAMES as readonly string[]).includes(m[1])) return { kind: 'weights', head: m[1] as HeadName, dim: m[2] !== undefined ? Number(m[2]) : undefined };
  return undefined;
}

const round = (x: number) => Math.round(x * 10) / 10;

export function cameraToParam(c: CortexCamera): string {
  return [...c.position, ...c.target].map(round).join(',');
}

export function cameraFromParam(v: string | null): CortexCamera | undefined {
  if (!v) return undefined;
  const n = v.split(',').map(Number);
  if (n.length !== 6 || n.some((x) => !Number.isFinite(x))) return undefined;
  return { position: [n[0], n[1], n[2]], target: [n[3], n[4], n[5]] };
}

/** The cortex part of the view from URL parameters; malformed values are left out. */
export function cortexFromParams(params: URLSearchParams): Partial<CortexViewState> {
  const out: Partial<CortexViewState> = {};
  const shape = params.get('shape');
  if (shape && (SHAPES as readonly string[]).includes(shape)) out.shape = shape as CortexShape;
  const ov = overlayFromParam(params.get('overlay'));
  if (ov) out.overlay = ov;
  const roi = params.get('roi');
  if (roi) out.roi = roi;
  const pert = params.get('pert');
  if (pert) {
    try {
      out.stack = PerturbationStack.fromJSON(JSON.parse(pert), 'URL parameter "pert"').toJSON();
      out.draft = false;
    } catch {
      // A malformed stack in a shared link is ignored rather than breaking the page.
    }
  }
  const cam = cameraFromParams(params);
  if (cam) out.camera = cam;
  if (params.get('present') === '1') out.presentation = true;
  return out;
}

function cameraFromParams(params: URLSearchParams): CortexCamera | undefined {
  return cameraFromParam(params.get('cam'));
}

export function cortexToParams(s: CortexViewState, params: URLSearchParams): void {
  const put = (key: string, value: string | null) => {
    if (value === null) params.delete(key);
    else params.set(key, value);
  };
  put('shape', s.shape === DEFAULT_CORTEX.shape ? null : s.shape);
  const ov = overlayToParam(s.overlay);
  put('overlay', ov === 'betas' ? null : ov);
  put('roi', s.roi);
  put('pert', s.stack.length ? JSON.stringify(s.stack) : null);
  put('cam', s.camera ? cameraToParam(s.camera) : null);
  put('present', s.presentation ? '1' : null);
}

export const cortexCodec: UrlCodec = {
  keys: ['shape', 'overlay', 'roi', 'pert', 'cam', 'present'],
  read(params) {
    useCortexStore.getState().set(cortexFromParams(params));
  },
  write(params) {
    cortexToParams(useCortexStore.getState(), params);
  },
  subscribe(onChange) {
    // Only the linked fields: hover, worker replies and controls change often and never touch the URL.
    return useCortexStore.subscribe((now, before) => {
      if (VIEW_KEYS.some((k) => now[k] !== before[k])) onChange();
    });
  },
};

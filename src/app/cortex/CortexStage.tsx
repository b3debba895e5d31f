// The surface with its overlay: the three.js canvas, the hover tooltip, the colour bar, and the
// brush's settings while drawing. Turns pointer events into worker requests (pick, paint) whose
// replies go to the cortex store.
import { useCallback, useMemo, useRef } from 'react';
import type { HemiGeometry, SubjectView } from '../../core/cortex/protocol.ts';
import { roisFor, useCortexStore, type CortexOverlay } from '../../state/cortexStore.ts';
import { ColorBar } from './Charts.tsx';
import { cortexClient } from './client.ts';
import { colorize, makeScale } from './colors.ts';
import { CortexCanvas, type SurfaceHit } from './CortexCanvas.tsx';
import { hasShape } from './CortexToolbar.tsx';
import { reportCortexError, saveRois, type CortexKeys } from './useCortexWorker.ts';
import { ColorInput, Slider, TextInput } from '../common/controls.tsx';

function overlayLabel(o: CortexOverlay, simulated: boolean): string {
  const sim = simulated ? ' (simulated)' : '';
  switch (o.kind) {
    case 'betas':
      return `betas after perturbation, z-scored${sim}`;
    case 'perturbation':
      return `perturbation Δx (betas units)${sim}`;
    case 'weights':
      return o.dim === undefined ? `${o.head} head: |row of A·B| per voxel` : `${o.head} head: weight of output ${o.dim}`;
    default:
      return '';
  }
}

const NO_GEOMETRY: HemiGeometry[] = [];

interface Props {
  view: SubjectView | null;
  keys: CortexKeys;
  simulated: boolean;
}

export function CortexStage({ view, keys, simulated }: Props) {
  const shape = useCortexStore((s) => s.shape);
  const roi = useCortexStore((s) => s.roi);
  const camera = useCortexStore((s) => s.camera);
  const tool = useCortexStore((s) => s.tool);
  const brush = useCortexStore((s) => s.brush);
  const hover = useCortexStore((s) => s.hover);
  const rois = useCortexStore((s) => roisFor(s, keys.subject));
  const shown = useCortexStore((s) => (s.overlayValues?.key === keys.trials ? s.overlayValues : null));
  const anyLoaded = useCortexStore((s) => s.loaded !== null);
  const set = useCortexStore((s) => s.set);

  const scale = useMemo(
    () => (shown?.values ? makeScale(shown.values, shown.overlay.kind !== 'weights' || shown.overlay.dim !== undefined, overlayLabel(shown.overlay, simulated)) : null),
    [shown, simulated],
  );
  const colors = useMemo(() => {
    if (!view) return null;
    return view.geometry.map((g, h) => {
      const out = new Float32Array(g.vertexCount * 3);
      colorize(shown?.values?.[h] ?? null, scale, out);
      return out;
    });
  }, [view, shown, scale]);

  // Hover picking: only the latest pick is shown.
  const pickSeq = useRef(0);
  const onHover = useCallback((hit: SurfaceHit | null) => {
    const seq = ++pickSeq.current;
    if (!hit) return useCortexStore.getState().set({ hover: null });
    cortexClient()
      .pick(hit.hemi, hit.vertex, useCortexStore.getState().overlay)
      .then((p) => seq === pickSeq.current && useCortexStore.getState().set({ hover: { ...p, ...hit } }))
      .catch(() => undefined);
  }, []);

  const onClick = useCallback((hit: SurfaceHit) => {
    const st = useCortexStore.getState();
    if (st.tool === 'blob') return st.set({ blobCentre: { hemi: hit.hemi, vertex: hit.vertex } });
    if (st.tool !== 'select') return;
    cortexClient()
      .pick(hit.hemi, hit.vertex, st.overlay)
      .then((p) => {
        if (p.rois.length) useCortexStore.getState().set({ roi: p.rois[p.rois.length - 1] });
      })
      .catch(reportCortexError);
  }, []);

  const onStroke = useCallback(
    (hemi: number, vertices: number[]) => {
      const { brush: b, shape: sh } = useCortexStore.getState();
      cortexClient()
        .paintRoi(b.name, b.color, hemi, vertices, b.radius, sh)
        .then(async (next) => {
          await saveRois(keys, next);
          useCortexStore.getState().set({ roi: b.name });
        })
        .catch(reportCortexError);
    },
    [keys],
  );

  return (
    <>
      <div className="cortex__stage">
        {/* The canvas (its WebGL context, a costly start) stays while another subject loads. */}
        {anyLoaded ? (
          <CortexCanvas
            geometry={view?.geometry ?? NO_GEOMETRY}
            shape={hasShape(view, shape) ? shape : 'folded'}
            colors={colors}
            rois={rois}
            selectedRoi={roi}
            camera={camera}
            tool={tool}
            brushRadiusMm={brush.radius}
            onHover={onHover}
            onClick={onClick}
            onStroke={onStroke}
            onCamera={(c) => set({ camera: c })}
          />
        ) : null}
        {!view && <div className="placeholder cortex__loading">Loading the cortex…</div>}
        {hover && (
          <div className="cortex__tooltip" style={{ left: hover.x + 14, top: hover.y + 10 }} data-testid="cortex-tooltip">
            <div>
              {hover.hemi === 0 ? 'lh' : 'rh'} vertex {hover.vertex}
            </div>
            <div>{hover.voxels.length ? `voxel ${hover.voxels.join(', ')}` : 'no voxel'}</div>
            <div>{hover.rois.length ? hover.rois.join(' · ') : 'outside ROIs'}</div>
            {hover.value !== null && <div>value {hover.value.toFixed(3)}</div>}
          </div>
        )}
        <div className="cortex__colorbar">
          <ColorBar scale={scale} />
        </div>
      </div>
      {tool === 'brush' && (
        <div className="cortex__brush cortex__controls">
          <label>
            ROI name <TextInput value={brush.name} onText={(name) => set({ brush: { ...brush, name } })} data-testid="cortex-brush-name" />
          </label>
          <ColorInput value={brush.color} onColor={(color) => set({ brush: { ...brush, color } })} aria-label="ROI colour" />
          <label>
            radius {brush.radius} mm
            <Slider min={1} max={20} value={brush.radius} onValue={(radius) => set({ brush: { ...brush, radius } })} />
          </label>
          <span className="muted">drag on the surface; each stroke adds to the ROI</span>
        </div>
      )}
    </>
  );
}

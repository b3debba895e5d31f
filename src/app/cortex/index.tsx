// The cortex panel: both hemispheres with an overlay, ROIs (bundle + drawn), perturbations of the
// selected ROI and what they do to every decoder head, live. All math runs in the cortex worker
// (workers/cortex.worker.ts over src/core/cortex); this file only wires stores, worker and views.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { HeadName, Manifest } from '../../core/bundle/manifest.ts';
import { predictHead, type LoadedHead } from '../../core/decode/predict.ts';
import { useBundleStore, isSimulated, toAppError } from '../../state/bundleStore.ts';
import { useCortexStore, cortexCodec, type CortexOverlay } from '../../state/cortexUrl.ts';
import { useResolvedSelection } from '../../state/hooks.ts';
import { registerUrlCodec } from '../../state/url.ts';
import type { CortexUpdateWithLowLevel as CortexUpdate, LesionCell, PickInfo, RoiInfo, SubjectView } from '../../core/cortex/protocol.ts';
import { CortexCanvas, type CanvasTool, type SurfaceHit } from './CortexCanvas.tsx';
import { ColorBar, HeadChangeChart, LesionChart, StimulusCosineChart } from './Charts.tsx';
import { StackUpdater, cortexClient, ensureOpen } from './client.ts';
import { colorize, makeScale, type ColorScale } from './colors.ts';
import { PerturbEditor, StackList, describe } from './PerturbEditor.tsx';
import { CortexBackendBadge } from './BackendBadge.tsx';
import { PerturbedReconstruction } from './PerturbedReconstruction.tsx';
import { LowLevelPair } from './LowLevelPair.tsx';
import { RoiList } from './RoiList.tsx';
import './cortex.css';

try {
  registerUrlCodec(cortexCodec);
} catch {
  // Already registered (hot reload).
}

declare global {
  interface Window {
    mirageCortex?: {
      client: typeof cortexClient;
      store: typeof useCortexStore;
      /** The latest update shown. */
      update: () => CortexUpdate | null;
      /** CPU reference of a head's change for the current stack, recomputed in the page with predictHead. */
      reference: (head: HeadName) => Promise<{ maxAbsDiff: number; maxAbsRef: number; n: number; backend: string }>;
    };
  }
}

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

export function CortexPanel() {
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const r = useResolvedSelection();
  if (!manifest || !location || !r) return null;
  const subject = manifest.subjects.find((s) => s.id === r.subject);
  if (!subject || subject.surfaces.length < 2 || !subject.voxelToVertex) {
    return (
      <section className="card cortex" data-testid="cortex-panel">
        <h2 className="card__title">Cortex</h2>
        <div className="muted">This bundle has no cortical surfaces (or no voxel→vertex map) for subject {r.subject}.</div>
      </section>
    );
  }
  return <CortexView manifest={manifest} locationKey={location} subjectId={r.subject} trials={r.trials} stimulus={r.stimulus} condition={r.condition} />;
}

interface ViewProps {
  manifest: Manifest;
  locationKey: NonNullable<ReturnType<typeof useBundleStore.getState>['location']>;
  subjectId: number;
  trials: number[];
  stimulus: number;
  condition: 'vision' | 'imagery';
}

const NO_ROIS: RoiInfo[] = [];

function CortexView({ manifest, locationKey, subjectId, trials, stimulus, condition }: ViewProps) {
  const store = useCortexStore();
  // What the worker has loaded, tagged with what it was loaded for: a value whose tag is not the
  // current one is stale and reads as "not loaded yet" (derived during render, no resetting effects).
  const [loaded, setLoaded] = useState<{ key: string; view: SubjectView; rois: RoiInfo[] } | null>(null);
  const [roisEdited, setRoisEdited] = useState<{ key: string; rois: RoiInfo[] } | null>(null);
  const [readyFor, setReadyFor] = useState<string | null>(null);
  const [overlay, setOverlay] = useState<Float32Array[] | null>(null);
  const [scale, setScale] = useState<ColorScale | null>(null);
  const [lesion, setLesion] = useState<LesionCell[]>([]);
  const [lesionHead, setLesionHead] = useState<HeadName>('image');
  const [lesionMetric, setLesionMetric] = useState<'relNorm' | 'cosineChange'>('relNorm');
  const [error, setError] = useState<string | null>(null);
  const [hover, setHover] = useState<(PickInfo & SurfaceHit) | null>(null);
  const [tool, setTool] = useState<CanvasTool>('select');
  const [brush, setBrush] = useState({ name: 'drawn 1', color: '#2dd4bf', radius: 6 });
  const [blobCentre, setBlobCentre] = useState<{ hemi: number; vertex: number } | null>(null);
  const simulated = isSimulated(manifest);
  const storageKey = `mirage.cortex.rois.${manifest.name}.${subjectId}`;
  const subjectKey = `${locationKey.kind === 'url' ? locationKey.url : locationKey.label}|${subjectId}`;
  const trialKey = trials.join(',');
  const view = loaded?.key === subjectKey ? loaded.view : null;
  const rois = roisEdited?.key === subjectKey ? roisEdited.rois : view ? loaded!.rois : NO_ROIS;
  const setRois = useCallback((next: RoiInfo[]) => setRoisEdited({ key: subjectKey, rois: next }), [subjectKey]);
  const ready = view !== null && readyFor === `${subjectKey}#${trialKey}`;

  const fail = useCallback((e: unknown) => setError(toAppError('cortex', e).message), []);
  const [updater] = useState(() => new StackUpdater());
  const updaterState = useSyncExternalStore(updater.subscribe, updater.getSnapshot);
  const update = updaterState.update;
  const shownError = updaterState.error ? toAppError('cortex', updaterState.error).message : error;

  // Open the bundle and the subject in the worker.
  useEffect(() => {
    let live = true;
    (async () => {
      await ensureOpen(locationKey);
      const v = await cortexClient().loadSubject(subjectId);
      let all = v.rois;
      const saved = localStorage.getItem(storageKey);
      if (saved) {
        try {
          all = await cortexClient().importRois(saved, 'saved ROIs (localStorage)');
        } catch (e) {
          fail(e);
        }
      }
      if (!live) return;
      setLoaded({ key: subjectKey, view: v, rois: all });
    })().catch(fail);
    return () => {
      live = false;
    };
  }, [locationKey, subjectId, subjectKey, storageKey, fail]);

  // The trial(s) to perturb.
  useEffect(() => {
    if (!view) return;
    let live = true;
    const key = `${subjectKey}#${trialKey}`;
    cortexClient()
      .setTrials(trialKey.split(',').map(Number))
      .then(() => live && setReadyFor(key))
      .catch(fail);
    return () => {
      live = false;
    };
  }, [view, subjectKey, trialKey, fail]);

  // Perturbation stack -> update (coalesced in the updater).
  useEffect(() => {
    if (ready) updater.push(store.stack);
  }, [ready, store.stack, updater]);

  // Overlay values after each update or overlay change.
  useEffect(() => {
    if (!ready || !update) return;
    let live = true;
    const o = store.overlay;
    cortexClient()
      .overlay(o)
      .then((v) => {
        if (!live) return;
        setOverlay(v);
        setScale(v ? makeScale(v, o.kind !== 'weights' || o.dim !== undefined, overlayLabel(o, simulated)) : null);
      })
      .catch(fail);
    return () => {
      live = false;
    };
  }, [ready, update, store.overlay, simulated, fail]);

  // Lesion profile for the stimulus (vision and imagery trials).
  useEffect(() => {
    if (!ready) return;
    let live = true;
    cortexClient()
      .lesion(stimulus)
      .then((c) => live && setLesion(c))
      .catch(fail);
    return () => {
      live = false;
    };
  }, [ready, stimulus, rois, fail]);

  const colors = useMemo(() => {
    if (!view) return null;
    return view.geometry.map((g, h) => {
      const out = new Float32Array(g.vertexCount * 3);
      colorize(overlay?.[h] ?? null, scale, out);
      return out;
    });
  }, [view, overlay, scale]);

  // Hover picking (latest only).
  const pickSeq = useRef(0);
  const onHover = useCallback(
    (hit: SurfaceHit | null) => {
      const seq = ++pickSeq.current;
      if (!hit) return setHover(null);
      cortexClient()
        .pick(hit.hemi, hit.vertex, useCortexStore.getState().overlay)
        .then((p) => seq === pickSeq.current && setHover({ ...p, ...hit }))
        .catch(() => undefined);
    },
    [],
  );

  const onClick = useCallback(
    (hit: SurfaceHit) => {
      if (tool === 'blob') {
        setBlobCentre({ hemi: hit.hemi, vertex: hit.vertex });
        return;
      }
      if (tool !== 'select') return;
      cortexClient()
        .pick(hit.hemi, hit.vertex, store.overlay)
        .then((p) => {
          if (p.rois.length) store.set({ roi: p.rois[p.rois.length - 1] });
        })
        .catch(fail);
    },
    [tool, store, fail],
  );

  const saveRois = useCallback(
    async (next: RoiInfo[]) => {
      setRois(next);
      const file = await cortexClient().exportRois();
      localStorage.setItem(storageKey, JSON.stringify(file));
    },
    [storageKey, setRois],
  );

  const onStroke = useCallback(
    (hemi: number, vertices: number[]) => {
      cortexClient()
        .paintRoi(brush.name, brush.color, hemi, vertices, brush.radius, store.shape)
        .then(async (next) => {
          await saveRois(next);
          store.set({ roi: brush.name });
        })
        .catch(fail);
    },
    [brush, store, saveRois, fail],
  );

  // Test hook: the CPU reference, recomputed in the page from the worker's inputs.
  useEffect(() => {
    window.mirageCortex = {
      client: cortexClient,
      store: useCortexStore,
      update: () => updater.getSnapshot().update,
      async reference(head) {
        const ref = await cortexClient().reference(head);
        const spec = { name: head, rank: ref.rank, outputShape: ref.outputShape, inputNorm: ref.inputNorm, outputNorm: ref.outputNorm } as LoadedHead['spec'];
        const h: LoadedHead = { spec, A: ref.A, B: ref.B, intercept: ref.intercept };
        const y0 = predictHead(h, ref.x0, 1);
        const y1 = predictHead(h, ref.x1, 1);
        let maxAbsDiff = 0;
        let maxAbsRef = 0;
        for (let j = 0; j < y0.length; j++) {
          const want = y1[j] - y0[j];
          maxAbsRef = Math.max(maxAbsRef, Math.abs(want));
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(want - ref.factored[j]));
        }
        return { maxAbsDiff, maxAbsRef, n: y0.length, backend: ref.backend.name };
      },
    };
  }, [updater]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && useCortexStore.getState().presentation) useCortexStore.getState().set({ presentation: false });
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const selected = rois.find((x) => x.name === store.roi) ?? null;
  const trueStim = manifest.stimuli.find((s) => s.id === stimulus);
  const draft = store.draft ? store.stack[store.stack.length - 1] : null;
  const targetStimulus = draft?.kind === 'drive' ? draft.stimulus : null;
  const hasShape = (k: 'folded' | 'inflated' | 'flat') => !!view?.geometry.every((g) => g.shapes[k]);
  const heads = view?.heads ?? [];

  return (
    <section className={`card cortex ${store.presentation ? 'cortex--present' : ''}`} data-testid="cortex-panel" data-ready={ready && !!update ? 'true' : 'false'}>
      <h2 className="card__title">
        Cortex &amp; region perturbation
        <span className="muted card__sub">
          subject {subjectId} · {condition} · {trials.length > 1 ? `mean of ${trials.length} trials` : `trial #${trials[0]}`} {simulated ? '· simulated data' : ''}
        </span>
        <CortexBackendBadge info={update?.backend ?? view?.backend ?? null} />
        <button type="button" className="cortex__present-btn" onClick={() => store.set({ presentation: !store.presentation })} data-testid="cortex-present">
          {store.presentation ? 'Exit presentation (Esc)' : 'Presentation'}
        </button>
      </h2>
      {shownError && (
        <div className="cortex__error" role="alert">
          {shownError}
        </div>
      )}
      <div className="cortex__layout">
        <div className="cortex__left">
          <div className="cortex__toolbar cortex__controls">
            <div className="seg" role="radiogroup" aria-label="Surface">
              {(['folded', 'inflated', 'flat'] as const).map((k) => (
                <button key={k} type="button" disabled={!hasShape(k)} aria-checked={store.shape === k} className={store.shape === k ? 'is-active' : ''} onClick={() => store.set({ shape: k, camera: null })} data-testid={`cortex-shape-${k}`}>
                  {k}
                </button>
              ))}
            </div>
            <select
              value={store.overlay.kind === 'weights' ? `weights:${store.overlay.head}` : store.overlay.kind}
              onChange={(e) => {
                const v = e.currentTarget.value;
                store.set({ overlay: v.startsWith('weights:') ? { kind: 'weights', head: v.slice(8) as HeadName } : ({ kind: v } as CortexOverlay) });
              }}
              data-testid="cortex-overlay"
              aria-label="Overlay"
            >
              <option value="betas">betas</option>
              <option value="perturbation">perturbation Δx</option>
              {heads.map((h) => (
                <option key={h.name} value={`weights:${h.name}`}>
                  weights: {h.name} head
                </option>
              ))}
              <option value="none">none (ROIs only)</option>
            </select>
            {store.overlay.kind === 'weights' && (
              <label className="cortex__dim">
                output dim
                <input
                  type="number"
                  min={-1}
                  max={(heads.find((h) => h.name === (store.overlay as { head: HeadName }).head)?.outputShape.reduce((a, b) => a * b, 1) ?? 1) - 1}
                  value={store.overlay.dim ?? -1}
                  onChange={(e) => {
                    const d = Number(e.currentTarget.value);
                    const o = store.overlay as { kind: 'weights'; head: HeadName };
                    store.set({ overlay: { kind: 'weights', head: o.head, dim: d >= 0 ? d : undefined } });
                  }}
                  title="-1 = norm over the head's outputs"
                />
              </label>
            )}
            <div className="seg" role="radiogroup" aria-label="Tool">
              {(['select', 'brush', 'blob'] as const).map((t) => (
                <button key={t} type="button" aria-checked={tool === t} className={tool === t ? 'is-active' : ''} onClick={() => setTool(t)} data-testid={`cortex-tool-${t}`}>
                  {t === 'select' ? 'select ROI' : t === 'brush' ? 'draw ROI' : 'blob centre'}
                </button>
              ))}
            </div>
          </div>
          <div className="cortex__stage">
            {view ? (
              <CortexCanvas
                geometry={view.geometry}
                shape={hasShape(store.shape) ? store.shape : 'folded'}
                colors={colors}
                rois={rois}
                selectedRoi={store.roi}
                camera={store.camera}
                tool={tool}
                brushRadiusMm={brush.radius}
                onHover={onHover}
                onClick={onClick}
                onStroke={onStroke}
                onCamera={(c) => store.set({ camera: c })}
              />
            ) : (
              <div className="placeholder">Loading the cortex…</div>
            )}
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
                ROI name <input value={brush.name} onChange={(e) => setBrush({ ...brush, name: e.currentTarget.value })} data-testid="cortex-brush-name" />
              </label>
              <input type="color" value={brush.color} onChange={(e) => setBrush({ ...brush, color: e.currentTarget.value })} aria-label="ROI colour" />
              <label>
                radius {brush.radius} mm
                <input type="range" min={1} max={20} value={brush.radius} onChange={(e) => setBrush({ ...brush, radius: Number(e.currentTarget.value) })} />
              </label>
              <span className="muted">drag on the surface; each stroke adds to the ROI</span>
            </div>
          )}
        </div>
        <div className="cortex__right">
          <RoiList
            rois={rois}
            selected={store.roi}
            onSelect={(name) => store.set({ roi: name })}
            onRemove={(name) => cortexClient().removeUserRoi(name).then(saveRois).catch(fail)}
            onImport={(text, file) => cortexClient().importRois(text, file).then(saveRois).catch(fail)}
            onExport={() => cortexClient().exportRois()}
          />
          <div className="cortex__controls">
            <PerturbEditor manifest={manifest} subjectId={subjectId} stimulus={stimulus} condition={condition} roi={selected} blobCentre={blobCentre} onPickBlob={() => setTool('blob')} />
            <StackList />
          </div>
        </div>
      </div>
      <div className="cortex__charts">
        <div className="cortex__chart">
          <h3>Low-level image (blurry head → low-level decoder){simulated ? ' · simulated' : ''}</h3>
          <LowLevelPair result={update?.lowLevel ?? null} />
        </div>
        <div className="cortex__chart">
          <h3>Change per head</h3>
          <HeadChangeChart update={update} />
          {update && (
            <div className="cortex__facts muted" data-testid="cortex-facts">
              {update.changedVoxels} voxels changed · |Δx| = {update.dxNorm.toFixed(2)} · computed in {update.ms.toFixed(1)} ms (worker, exact factored update)
            </div>
          )}
        </div>
        <div className="cortex__chart cortex__chart--wide">
          <h3>
            Identification among the {update?.stimulusIds.length ?? 18} stimuli
            {update && update.rankBefore !== null && (
              <span className="cortex__rank" data-testid="cortex-rank" data-before={update.rankBefore} data-after={update.rankAfter ?? ''}>
                {' '}
                rank of “{trueStim?.name}”: {update.rankBefore} → <strong>{update.rankAfter}</strong>
              </span>
            )}
          </h3>
          <StimulusCosineChart update={update} manifest={manifest} trueStimulus={stimulus} targetStimulus={targetStimulus} />
        </div>
        <div className="cortex__chart cortex__chart--wide">
          <h3>
            Lesion profile: silencing each ROI ({trueStim?.name}, all repeats)
            <select value={lesionHead} onChange={(e) => setLesionHead(e.currentTarget.value as HeadName)} aria-label="Lesion head">
              {heads.map((h) => (
                <option key={h.name} value={h.name}>
                  {h.name}
                </option>
              ))}
            </select>
            <select value={lesionMetric} onChange={(e) => setLesionMetric(e.currentTarget.value as 'relNorm' | 'cosineChange')} aria-label="Lesion metric">
              <option value="relNorm">relative norm</option>
              <option value="cosineChange">1 − cosine</option>
            </select>
          </h3>
          <LesionChart cells={lesion} head={lesionHead} metric={lesionMetric} />
        </div>
        <div className="cortex__chart cortex__chart--wide">
          <h3>Full reconstruction: unperturbed vs perturbed ({trueStim?.name}, {condition}, repeats averaged){simulated ? ' · simulated' : ''}</h3>
          <PerturbedReconstruction
            location={locationKey}
            subject={subjectId}
            stimulus={stimulus}
            condition={condition}
            stackLabel={store.stack.map((p) => describe(p, manifest)).join(' → ') || 'no perturbation'}
            simulated={simulated}
          />
        </div>
      </div>
    </section>
  );
}

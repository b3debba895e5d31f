// The cortex panel: both hemispheres with an overlay, ROIs (bundle + drawn), perturbations of the
// selected ROI and what they do to every decoder head, live. All math runs in the cortex worker
// (workers/cortex.worker.ts over src/core/cortex); the hooks in useCortexWorker.ts put its replies
// into the cortex store (src/state/cortexStore.ts) and the components below only read that store.
import type { Manifest } from '../../core/bundle/manifest.ts';
import { useBundleStore, isSimulated, type BundleLocation } from '../../state/bundleStore.ts';
import { cortexCodec } from '../../state/cortexUrl.ts';
import { roisFor, useCortexStore, viewFor } from '../../state/cortexStore.ts';
import { useDeferredSelection } from '../../state/hooks.ts';
import { registerUrlCodec } from '../../state/url.ts';
import { CortexHeader } from './CortexHeader.tsx';
import { CortexResults } from './CortexResults.tsx';
import { CortexSidebar } from './CortexSidebar.tsx';
import { CortexStage } from './CortexStage.tsx';
import { CortexToolbar } from './CortexToolbar.tsx';
import { installCortexDevHook } from './devHook.ts';
import { cortexKeys, useCortexSession, useEscapeLeavesPresentation, useLesionProfile, useOverlayValues, useStackUpdates } from './useCortexWorker.ts';
import './cortex.css';

try {
  registerUrlCodec(cortexCodec);
} catch {
  // Already registered (hot reload).
}
// Browser tests' handle on the panel; `import.meta.env.DEV` is false in production builds, where
// this call and the module behind it are dropped.
if (import.meta.env.DEV) installCortexDevHook();

export function CortexPanel() {
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const r = useDeferredSelection();
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
  return <CortexView manifest={manifest} location={location} subjectId={r.subject} trials={r.trials} stimulus={r.stimulus} condition={r.condition} />;
}

interface ViewProps {
  manifest: Manifest;
  location: BundleLocation;
  subjectId: number;
  trials: number[];
  stimulus: number;
  condition: 'vision' | 'imagery';
}

function CortexView({ manifest, location, subjectId, trials, stimulus, condition }: ViewProps) {
  const keys = cortexKeys(location, manifest.name, subjectId, trials);
  const ready = useCortexSession(location, subjectId, trials, keys);
  const view = useCortexStore((s) => viewFor(s, keys.subject));
  const rois = useCortexStore((s) => roisFor(s, keys.subject));
  const update = useCortexStore((s) => (s.updateFor === keys.trials ? s.update : null));
  const error = useCortexStore((s) => s.error);
  const presentation = useCortexStore((s) => s.presentation);
  useStackUpdates(ready, keys.trials);
  useOverlayValues(ready, keys.trials);
  useLesionProfile(ready, keys.trials, stimulus, rois);
  useEscapeLeavesPresentation();
  const simulated = isSimulated(manifest);

  return (
    <section className={`card cortex ${presentation ? 'cortex--present' : ''}`} data-testid="cortex-panel" data-ready={ready && !!update ? 'true' : 'false'}>
      <CortexHeader subjectId={subjectId} condition={condition} trials={trials} simulated={simulated} backend={update?.backend ?? view?.backend ?? null} />
      {error && (
        <div className="cortex__error" role="alert">
          {error}
        </div>
      )}
      <div className="cortex__layout">
        <div className="cortex__left">
          <CortexToolbar view={view} />
          <CortexStage view={view} keys={keys} simulated={simulated} />
        </div>
        <CortexSidebar manifest={manifest} keys={keys} rois={rois} subjectId={subjectId} stimulus={stimulus} condition={condition} />
      </div>
      <CortexResults manifest={manifest} location={location} view={view} update={update} trialsKey={keys.trials} subjectId={subjectId} stimulus={stimulus} condition={condition} simulated={simulated} />
    </section>
  );
}

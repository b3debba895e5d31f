// Panels owned by other areas, mounted only when their module exists at build time: import.meta.glob
// resolves to {} for a missing file, so the app builds and runs before (and without) them.
import { lazy, Suspense, type ComponentType, type LazyExoticComponent, type ReactNode } from 'react';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { CortexPlaceholder } from './CortexPlaceholder.tsx';

type PanelModule = Record<string, unknown>;

const cortexModules = import.meta.glob<PanelModule>('../cortex/index.tsx');
const reconstructModules = import.meta.glob<PanelModule>('../reconstruct/index.tsx');
const evaluateModules = import.meta.glob<PanelModule>('../evaluate/index.tsx');

function lazyPanel(modules: Record<string, () => Promise<PanelModule>>, exportName: string): LazyExoticComponent<ComponentType> | null {
  const load = Object.values(modules)[0];
  if (!load) return null;
  return lazy(async () => {
    const mod = await load();
    const C = mod[exportName];
    if (typeof C !== 'function' && (typeof C !== 'object' || C === null)) {
      throw new Error(`module does not export ${exportName}`);
    }
    return { default: C as ComponentType };
  });
}

const Cortex = lazyPanel(cortexModules, 'CortexPanel');
const Reconstruct = lazyPanel(reconstructModules, 'ReconstructPanel');
const Evaluate = lazyPanel(evaluateModules, 'EvaluatePanel');

export const hasReconstructPanel = Reconstruct !== null;
export const hasEvaluatePanel = Evaluate !== null;

function Mount({ area, C, fallback }: { area: string; C: LazyExoticComponent<ComponentType> | null; fallback: ReactNode }) {
  if (!C) return <>{fallback}</>;
  return (
    <ErrorBoundary area={area}>
      <Suspense fallback={<div className="placeholder">Loading {area}…</div>}>
        <C />
      </Suspense>
    </ErrorBoundary>
  );
}

export function CortexSlot() {
  return <Mount area="Cortex view" C={Cortex} fallback={<CortexPlaceholder />} />;
}

export function ReconstructSlot() {
  return <Mount area="Reconstruction" C={Reconstruct} fallback={<div className="placeholder">Reconstruction is not part of this build.</div>} />;
}

export function EvaluateSlot() {
  return <Mount area="Evaluation" C={Evaluate} fallback={<div className="placeholder">Evaluation is not part of this build.</div>} />;
}

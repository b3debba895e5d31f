// The page: top bar, error banner, then either the loading view or the explorer (subject, condition
// and stimulus on the left; trial / reconstruction / evaluation tabs on the right).
import { useBundleStore } from '../state/bundleStore.ts';
import { useDecodeStore } from '../state/decodeStore.ts';
import { useErrorStore } from '../state/errorStore.ts';
import { useDeferredSelection, useResolvedSelection } from '../state/hooks.ts';
import { useSelectionStore, type ViewTab } from '../state/selectionStore.ts';
import { ConditionSwitch, SubjectPicker } from './browse/SubjectPicker.tsx';
import { StimulusGrid } from './browse/StimulusGrid.tsx';
import { ErrorBanner } from './shell/ErrorBanner.tsx';
import { ErrorBoundary } from './shell/ErrorBoundary.tsx';
import { LoadingView } from './shell/LoadingView.tsx';
import { DropZone } from './shell/OpenFolder.tsx';
import { EvaluateSlot, ReconstructSlot, hasEvaluatePanel, hasReconstructPanel } from './shell/panels.tsx';
import { TopBar } from './shell/TopBar.tsx';
import { TrialView } from './trial/TrialView.tsx';
import { Tabs } from './common/controls.tsx';

function ScreenTabs() {
  const tab = useSelectionStore((s) => s.tab);
  const set = useSelectionStore((s) => s.set);
  const tabs: Array<{ id: ViewTab; label: string; on: boolean }> = [
    { id: 'trial', label: 'Trial & decoding', on: true },
    { id: 'reconstruct', label: 'Reconstruction', on: hasReconstructPanel },
    { id: 'evaluate', label: 'Evaluation', on: hasEvaluatePanel },
  ];
  return <Tabs tabs={tabs.filter((t) => t.on)} value={tab} onChange={(id) => set({ tab: id })} />;
}

function Explorer() {
  const manifest = useBundleStore((s) => s.manifest)!;
  const r = useResolvedSelection();
  const shown = useDeferredSelection();
  const tab = useSelectionStore((s) => s.tab);
  if (!r) {
    return (
      <main className="empty">
        <h2>Nothing to decode</h2>
        <p className="muted">This bundle has no decoded subject with trials for the selected stimulus and condition.</p>
        <ConditionSwitch />
      </main>
    );
  }
  return (
    <div className="explorer">
      <aside className="sidebar">
        <div className="sidebar__block">
          <div className="label">Subject</div>
          <SubjectPicker manifest={manifest} current={r.subject} />
        </div>
        <div className="sidebar__block">
          <div className="label">Condition</div>
          <ConditionSwitch />
        </div>
        <StimulusGrid manifest={manifest} subject={r.subject} stimulus={r.stimulus} condition={r.condition} />
      </aside>
      <main className="main">
        <ScreenTabs />
        <ErrorBoundary area={tab === 'trial' ? 'Trial view' : tab === 'reconstruct' ? 'Reconstruction' : 'Evaluation'}>
          {tab === 'reconstruct' && hasReconstructPanel ? (
            <ReconstructSlot />
          ) : tab === 'evaluate' && hasEvaluatePanel ? (
            <EvaluateSlot />
          ) : (
            <TrialView manifest={manifest} r={shown ?? r} />
          )}
        </ErrorBoundary>
      </main>
    </div>
  );
}

function Footer() {
  const manifest = useBundleStore((s) => s.manifest);
  if (!manifest) return null;
  const p = manifest.provenance;
  return (
    <footer className="footer">
      <span>
        Data: <strong>{p.kind}</strong> · {p.generator.name} {p.generator.version} · built {p.createdAt.slice(0, 10)}
        {p.seed !== undefined ? ` · seed ${p.seed}` : ''}
      </span>
      <code className="footer__cmd">{p.command}</code>
    </footer>
  );
}

export function App() {
  const status = useBundleStore((s) => s.status);
  const bundleError = useBundleStore((s) => s.error);
  const backendError = useDecodeStore((s) => s.backendError);
  const decodeError = useDecodeStore((s) => s.error);
  const otherErrors = useErrorStore((s) => s.errors);
  return (
    <div className="app">
      <TopBar />
      <ErrorBanner errors={[bundleError, backendError, decodeError, ...otherErrors]} />
      {status === 'loading' && <LoadingView />}
      {status === 'ready' && <Explorer />}
      {status === 'error' && (
        <main className="empty">
          <h2>The bundle could not be opened</h2>
          <p className="muted">
            Open another with <code>?bundle=URL</code>, the “Open folder…” button, or drop a bundle folder onto this page. Build the demo with{' '}
            <code>npx mirage demo --out public/demo</code>.
          </p>
        </main>
      )}
      <Footer />
      <DropZone />
    </div>
  );
}

// The bar across the top: name, what bundle is open (and whether it is simulated), the decoding
// backend actually in use, and the local-folder picker.
import { isSimulated, useBundleStore } from '../../state/bundleStore.ts';
import { useDecodeStore } from '../../state/decodeStore.ts';
import { OpenFolderButton } from './OpenFolder.tsx';

const BACKEND_TITLES: Record<string, string> = {
  webgpu: 'tfjs on WebGPU (GPU compute in the browser)',
  wasm: 'tfjs on WebAssembly (CPU, SIMD)',
  cpu: 'tfjs plain CPU backend',
  js: 'plain JavaScript reference',
};

export function BackendBadge() {
  const backend = useDecodeStore((s) => s.backend);
  const status = useDecodeStore((s) => s.backendStatus);
  const text = backend ?? (status === 'starting' ? 'starting…' : status === 'error' ? 'no backend' : '—');
  return (
    <span
      className={`badge badge--backend badge--${backend ?? status}`}
      data-testid="backend-badge"
      data-backend={backend ?? ''}
      title={backend ? `Decoding runs on ${BACKEND_TITLES[backend] ?? backend}` : 'Decoding backend'}
    >
      <span className="badge__key">backend</span> {text}
    </span>
  );
}

export function SimulatedBadge() {
  const manifest = useBundleStore((s) => s.manifest);
  if (!isSimulated(manifest)) return null;
  return (
    <span
      className="badge badge--simulated"
      data-testid="simulated-badge"
      title={`Simulated data: ${manifest?.provenance.command ?? ''}${manifest?.provenance.seed !== undefined ? ` (seed ${manifest.provenance.seed})` : ''}`}
    >
      SIMULATED
    </span>
  );
}

export function TopBar() {
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const where = location?.kind === 'url' ? location.url : location?.label;
  return (
    <header className="topbar">
      <div className="topbar__brand">
        <span className="topbar__logo" aria-hidden="true">◐</span>
        <span className="topbar__name">MIRAGE Explorer</span>
      </div>
      <div className="topbar__bundle" title={where}>
        {manifest ? (
          <>
            <span className="topbar__bundle-name">{manifest.name}</span>
            <span className="muted topbar__bundle-where">{where}</span>
          </>
        ) : (
          <span className="muted">{where ?? 'no bundle'}</span>
        )}
      </div>
      <div className="topbar__right">
        <SimulatedBadge />
        <BackendBadge />
        <OpenFolderButton />
      </div>
    </header>
  );
}

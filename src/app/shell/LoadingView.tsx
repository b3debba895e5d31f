// Bundle loading: progress by bytes (the loader reports bytes of manifest + shards read so far).
import { useBundleStore } from '../../state/bundleStore.ts';
import { formatBytes } from '../common/format.ts';

export function LoadingView() {
  const progress = useBundleStore((s) => s.progress);
  const location = useBundleStore((s) => s.location);
  const frac = progress && progress.totalBytes > 0 ? Math.min(1, progress.loadedBytes / progress.totalBytes) : null;
  return (
    <section className="loading" data-testid="loading" aria-busy="true">
      <h2>Opening bundle</h2>
      <p className="muted">{location?.kind === 'url' ? location.url : location?.label}</p>
      <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={frac === null ? undefined : Math.round(frac * 100)}>
        <div className={`progress__bar ${frac === null ? 'progress__bar--indeterminate' : ''}`} style={{ width: frac === null ? '30%' : `${frac * 100}%` }} />
      </div>
      <p className="loading__bytes">
        {progress
          ? `${formatBytes(progress.loadedBytes)} of ${progress.totalBytes > 0 ? formatBytes(progress.totalBytes) : '?'}${progress.file ? ` · ${progress.file}` : ''}`
          : 'reading manifest.json…'}
      </p>
    </section>
  );
}

// What the reconstruction runs on: the model pack being loaded (bytes and percent of the file being
// read and of the whole pack, with cancel), then which pack and build each stage came from (a
// composite pack's parts, float32 / float16) and where each stage runs (WebGPU, wasm, and why not
// WebGPU). Reads serviceStore (client.ts); the numbers are this browser's, from the worker.
import { useSyncExternalStore } from 'react';
import { PRECISION_SETTINGS } from '../../core/generate/precision.ts';
import type { ServiceInfo } from '../../core/generate/protocol.ts';
import { Button, ProgressBar, Select } from '../common/controls.tsx';
import { cancelOpen, serviceStore } from './client.ts';
import { PRECISION_LABELS, usePackSettings } from './packSettings.ts';

/** Bytes in the unit that keeps 3 significant digits (KB/MB/GB, powers of 1000 as browsers show downloads). */
export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const [v, u] = n < 1e6 ? [n / 1e3, 'kB'] : n < 1e9 ? [n / 1e6, 'MB'] : [n / 1e9, 'GB'];
  return `${v.toPrecision(3)} ${u}`;
}

/** A pack's name, with its kind only when the name does not already say it ("… (simulated world)" was followed by "(simulated)"). */
export function packLabel(name: string, kind: string): string {
  return name.toLowerCase().includes(kind.toLowerCase()) ? name : `${name} (${kind})`;
}

/** The pack download in progress: this file and the whole pack, with cancel. */
export function PackLoad() {
  const { loading, load } = useSyncExternalStore(serviceStore.subscribe, serviceStore.get);
  if (!loading) return null;
  if (!load) return <ProgressBar fraction={null} label={loading} testid="rc-load" />;
  return (
    <div className="rc-load" data-testid="rc-load">
      <ProgressBar
        fraction={load.fileBytes ? load.fileLoadedBytes / load.fileBytes : 1}
        label={`file ${load.fileIndex + 1} of ${load.fileCount}: ${load.pack} / ${load.file} — ${formatBytes(load.fileLoadedBytes)} of ${formatBytes(load.fileBytes)}`}
        testid="rc-load-file"
      />
      <ProgressBar fraction={load.totalBytes ? load.loadedBytes / load.totalBytes : 1} label={`model pack — ${formatBytes(load.loadedBytes)} of ${formatBytes(load.totalBytes)}`} testid="rc-load-total" />
      <Button onClick={() => void cancelOpen()} data-testid="rc-load-cancel" title="stops the download; files and chunks already downloaded stay in Cache Storage and the next load resumes from them">
        Cancel loading
      </Button>
    </div>
  );
}

/** The precision setting (`?prec=`): which build of each stage the next load reads. */
export function PrecisionSelect({ disabled }: { disabled: boolean }) {
  const precision = usePackSettings((s) => s.precision);
  const setPrecision = usePackSettings((s) => s.setPrecision);
  return (
    <label className="rc-inline" title="which build of each stage to load where the pack has both (?prec= in the URL)">
      weights{' '}
      <Select aria-label="weights precision" data-testid="rc-precision" value={precision} onChange={(e) => setPrecision(e.target.value as typeof precision)} disabled={disabled}>
        {PRECISION_SETTINGS.map((p) => (
          <option key={p} value={p}>
            {PRECISION_LABELS[p]}
          </option>
        ))}
      </Select>
    </label>
  );
}

/** The unconditional CLIP tensors' line: zeros that nobody computed are said to be such. */
export function unconditionalLabel(u: ServiceInfo['unconditional']): string {
  if (!u) return 'unconditional CLIP tensors: source not recorded';
  return u.computed === false ? `unconditional CLIP tensors: not computed (zeros) — pack ${u.pack}` : `unconditional CLIP tensors: ${u.source}`;
}

/** Which pack, build and device each stage has (the composite's parts named). */
export function PackDetails({ info }: { info: ServiceInfo }) {
  const stages = Object.entries(info.stages);
  const total = stages.reduce((a, [, s]) => a + s.bytes, 0);
  return (
    <details className="rc-pack" data-testid="rc-pack" open={info.composite !== null}>
      <summary>
        model pack <b data-testid="rc-pack-name">{info.packName}</b>
        {packLabel(info.packName, info.packKind).slice(info.packName.length)}
        {info.composite ? ` (composite of ${info.composite.parts.length + 1} packs)` : ''}, {formatBytes(total)} of graphs and weights loaded
        {info.shaderF16 ? ' · adapter has shader-f16' : ''}
      </summary>
      {info.composite ? (
        <p className="rc-note" data-testid="rc-pack-parts">
          base: {info.composite.base}; {info.composite.parts.map((p) => `${p.stage} from ${p.pack} (${p.source})`).join('; ')}
        </p>
      ) : null}
      <p className="rc-note" data-testid="rc-pack-unconditional" data-computed={String(info.unconditional?.computed ?? 'unknown')}>{unconditionalLabel(info.unconditional)}</p>
      <table className="rc-timings">
        <caption>per stage: the pack it came from, the weights loaded and where it runs (this browser)</caption>
        <tbody>
          {stages.map(([name, s]) => (
            <tr key={name} data-testid={`rc-stage-${name}`} data-precision={s.precision} data-placement={s.placement} data-parts={s.parts}>
              <td>{name}</td>
              <td title={s.role}>
                {packLabel(s.pack, s.kind)}
                {s.modelVariant && !s.pack.includes(s.modelVariant) ? ` · ${s.modelVariant}` : ''}
                {s.parts > 1 ? ` · ${s.parts} parts run back to back` : ''}
              </td>
              <td title={s.precisionReason}>{s.precision}</td>
              <td title={s.placementReason}>{s.placement === 'webgpu' ? 'WebGPU' : s.placementReason && s.placementReason !== info.fallbackReason ? `wasm (WebGPU failed: ${s.placementReason})` : 'wasm'}</td>
              <td>{formatBytes(s.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

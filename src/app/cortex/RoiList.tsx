// The ROI list: bundle ROIs and drawn ROIs; click to select; drawn ones can be removed, exported
// as JSON (voxel indices) and imported again.
import { useRef } from 'react';
import type { RoiFile, RoiInfo } from '../../core/cortex/protocol.ts';

interface Props {
  rois: RoiInfo[];
  selected: string | null;
  onSelect(name: string | null): void;
  onRemove(name: string): void;
  onImport(text: string, file: string): void;
  onExport(): Promise<RoiFile>;
}

export function RoiList({ rois, selected, onSelect, onRemove, onImport, onExport }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const download = async () => {
    const file = await onExport();
    const url = URL.createObjectURL(new Blob([JSON.stringify(file, null, 1)], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `rois-subj${String(file.subject).padStart(2, '0')}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div className="cortex__rois" data-testid="cortex-rois">
      <h3>Regions</h3>
      <ul>
        {rois.map((r) => (
          <li key={r.name}>
            <button type="button" className={`cortex__roi ${selected === r.name ? 'is-active' : ''}`} onClick={() => onSelect(selected === r.name ? null : r.name)} data-testid={`cortex-roi-${r.name}`}>
              <span className="cortex__swatch" style={{ background: r.color }} />
              {r.name}
              <span className="muted"> · {r.voxelCount} vox{r.source === 'user' ? ' · drawn' : ''}</span>
            </button>
            {r.source === 'user' && (
              <button type="button" className="cortex__x" title={`remove ${r.name}`} onClick={() => onRemove(r.name)}>
                ×
              </button>
            )}
          </li>
        ))}
      </ul>
      <div className="cortex__buttons cortex__controls">
        <button type="button" onClick={() => void download()} disabled={!rois.some((r) => r.source === 'user')}>
          Export drawn ROIs
        </button>
        <button type="button" onClick={() => input.current?.click()}>
          Import…
        </button>
        <input
          ref={input}
          type="file"
          accept="application/json,.json"
          hidden
          onChange={async (e) => {
            const f = e.currentTarget.files?.[0];
            if (f) onImport(await f.text(), f.name);
            e.currentTarget.value = '';
          }}
        />
      </div>
    </div>
  );
}

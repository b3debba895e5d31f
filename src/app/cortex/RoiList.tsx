// The ROI list: bundle ROIs and drawn ROIs; click to select; drawn ones can be removed, exported
// as JSON (voxel indices) and imported again.
import { Button, FilePicker } from '../common/controls.tsx';
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
            <Button kind="tile" className={`cortex__roi ${selected === r.name ? 'is-active' : ''}`} onClick={() => onSelect(selected === r.name ? null : r.name)} data-testid={`cortex-roi-${r.name}`}>
              <span className="cortex__swatch" style={{ background: r.color }} />
              {r.name}
              <span className="muted"> · {r.voxelCount} vox{r.source === 'user' ? ' · drawn' : ''}</span>
            </Button>
            {r.source === 'user' && (
              <Button className="cortex__x" title={`remove ${r.name}`} onClick={() => onRemove(r.name)}>
                ×
              </Button>
            )}
          </li>
        ))}
      </ul>
      <div className="cortex__buttons cortex__controls">
        <Button onClick={() => void download()} disabled={!rois.some((r) => r.source === 'user')}>
          Export drawn ROIs
        </Button>
        <FilePicker
          label="Import…"
          accept="application/json,.json"
          onFiles={(files) => {
            const f = files[0];
            void f.text().then((text) => onImport(text, f.name));
          }}
        />
      </div>
    </div>
  );
}

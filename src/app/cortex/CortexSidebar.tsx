// Right of the surface: the ROI list (select, remove, import, export), the perturbation editor for
// the selected ROI and the perturbation stack.
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { RoiInfo } from '../../core/cortex/protocol.ts';
import { useCortexStore } from '../../state/cortexStore.ts';
import { cortexClient } from './client.ts';
import { PerturbEditor, StackList } from './PerturbEditor.tsx';
import { RoiList } from './RoiList.tsx';
import { reportCortexError, saveRois, type CortexKeys } from './useCortexWorker.ts';

interface Props {
  manifest: Manifest;
  keys: CortexKeys;
  rois: RoiInfo[];
  subjectId: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
}

export function CortexSidebar({ manifest, keys, rois, subjectId, stimulus, condition }: Props) {
  const roi = useCortexStore((s) => s.roi);
  const blobCentre = useCortexStore((s) => s.blobCentre);
  const set = useCortexStore((s) => s.set);
  const selected = rois.find((x) => x.name === roi) ?? null;
  return (
    <div className="cortex__right">
      <RoiList
        rois={rois}
        selected={roi}
        onSelect={(name) => set({ roi: name })}
        onRemove={(name) =>
          cortexClient()
            .removeUserRoi(name)
            .then((next) => saveRois(keys, next))
            .catch(reportCortexError)
        }
        onImport={(text, file) =>
          cortexClient()
            .importRois(text, file)
            .then((next) => saveRois(keys, next))
            .catch(reportCortexError)
        }
        onExport={() => cortexClient().exportRois()}
      />
      <div className="cortex__controls">
        <PerturbEditor manifest={manifest} subjectId={subjectId} stimulus={stimulus} condition={condition} roi={selected} blobCentre={blobCentre} onPickBlob={() => set({ tool: 'blob' })} />
        <StackList />
      </div>
    </div>
  );
}

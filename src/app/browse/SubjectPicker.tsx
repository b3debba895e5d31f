// Subject picker: the bundle's decoded subjects (NSD numbering), with voxel counts.
import type { Manifest } from '../../core/bundle/manifest.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import { decodedSubjects } from '../../state/selectors.ts';

export function SubjectPicker({ manifest, current }: { manifest: Manifest; current: number }) {
  const set = useSelectionStore((s) => s.set);
  const subjects = decodedSubjects(manifest);
  return (
    <div className="segmented segmented--column" role="radiogroup" aria-label="Subject">
      {subjects.map((s) => (
        <button
          key={s.id}
          type="button"
          role="radio"
          aria-checked={s.id === current}
          className={`segmented__item ${s.id === current ? 'is-active' : ''}`}
          onClick={() => set({ subject: s.id, trial: null })}
          title={`${s.label}: ${s.voxelCount.toLocaleString()} voxels, ${s.heads.length} decoder heads`}
          data-testid={`subject-${s.id}`}
        >
          {s.label}
          <span className="segmented__sub">{s.voxelCount.toLocaleString()} vox</span>
        </button>
      ))}
    </div>
  );
}

export function ConditionSwitch() {
  const condition = useSelectionStore((s) => s.condition);
  const set = useSelectionStore((s) => s.set);
  return (
    <div className="segmented" role="radiogroup" aria-label="Condition">
      {(['vision', 'imagery'] as const).map((c) => (
        <button
          key={c}
          type="button"
          role="radio"
          aria-checked={c === condition}
          className={`segmented__item ${c === condition ? 'is-active' : ''}`}
          onClick={() => set({ condition: c, trial: null })}
          data-testid={`condition-${c}`}
        >
          {c === 'vision' ? 'Vision' : 'Imagery'}
        </button>
      ))}
    </div>
  );
}

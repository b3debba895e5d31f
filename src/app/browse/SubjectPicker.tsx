// Subject picker: the bundle's decoded subjects (NSD numbering), with voxel counts, and a note on the
// subjects not offered (NSD-Imagery's tuning subjects are not evaluated).
import type { Manifest } from '../../core/bundle/manifest.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import { decodedSubjects } from '../../state/selectors.ts';
import { Segmented } from '../common/controls.tsx';

export function SubjectPicker({ manifest, current }: { manifest: Manifest; current: number }) {
  const set = useSelectionStore((s) => s.set);
  const subjects = decodedSubjects(manifest);
  return (
    <>
      <Segmented
        label="Subject"
        column
        value={current}
        onChange={(id) => set({ subject: id, trial: null })}
        options={subjects.map((s) => ({
          value: s.id,
          title: `${s.label}: ${s.voxelCount.toLocaleString()} voxels, ${s.heads.length} decoder heads`,
          testid: `subject-${s.id}`,
          label: (
            <>
              {s.label}
              <span className="segmented__sub">{s.voxelCount.toLocaleString()} vox</span>
            </>
          ),
        }))}
      />
      <HiddenSubjectsNote manifest={manifest} />
    </>
  );
}

/** NSD-Imagery's tuning subjects: they did not complete every session, so MIRAGE uses them only to choose the ridge penalty and does not evaluate them (Kneeland et al. 2026, MIRAGE). */
export const NSD_TUNING_SUBJECTS = [3, 4, 6, 8];

/** Which subjects are not offered and why: tuning subjects (by the bundle's roles or NSD-Imagery's convention), or absent from the bundle. */
export function hiddenSubjects(manifest: Pick<Manifest, 'subjects'>): { tuning: number[]; absent: number[] } {
  const shown = new Set(decodedSubjects(manifest as Manifest).map((s) => s.id));
  const tuning = new Set(manifest.subjects.filter((s) => s.role === 'tuning').map((s) => s.id));
  const nsd = [1, 2, 3, 4, 5, 6, 7, 8].filter((id) => !shown.has(id));
  for (const id of nsd)
    if (NSD_TUNING_SUBJECTS.includes(id) && !manifest.subjects.some((s) => s.id === id && s.role === 'decoded'))
      tuning.add(id);
  return {
    tuning: [...tuning].filter((id) => !shown.has(id)).sort((a, b) => a - b),
    absent: nsd.filter((id) => !tuning.has(id)),
  };
}

function HiddenSubjectsNote({ manifest }: { manifest: Manifest }) {
  const { tuning, absent } = hiddenSubjects(manifest);
  if (!tuning.length && !absent.length) return null;
  return (
    <p className="subject-note" data-testid="subject-note">
      {tuning.length ? (
        <>
          Subject{tuning.length > 1 ? 's' : ''} {tuning.join(', ')} {tuning.length > 1 ? 'are' : 'is'} not listed: in
          NSD-Imagery {tuning.length > 1 ? 'they are' : 'it is a'} tuning subject{tuning.length > 1 ? 's' : ''}, who did
          not complete every session; MIRAGE uses them only to choose the ridge penalty and evaluates subjects 1, 2, 5
          and 7 (Kneeland et al. 2026).
        </>
      ) : null}
      {absent.length ? ` Subject${absent.length > 1 ? 's' : ''} ${absent.join(', ')}: not in this bundle.` : null}
    </p>
  );
}

export function ConditionSwitch() {
  const condition = useSelectionStore((s) => s.condition);
  const set = useSelectionStore((s) => s.set);
  return (
    <Segmented
      label="Condition"
      value={condition}
      onChange={(c) => set({ condition: c, trial: null })}
      options={(['vision', 'imagery'] as const).map((c) => ({ value: c, label: c === 'vision' ? 'Vision' : 'Imagery', testid: `condition-${c}` }))}
    />
  );
}

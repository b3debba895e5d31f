// The 18 NSD-Imagery stimuli grouped by set (simple A, complex B, conceptual C), with their cue
// letters and the number of trials of the selected subject and condition.
import type { Manifest, Stimulus } from '../../core/bundle/manifest.ts';
import { useSelectionStore, type ViewCondition } from '../../state/selectionStore.ts';
import { stimuliBySet, trialIndices } from '../../state/selectors.ts';
import { TensorImage, imageOf } from '../common/TensorImage.tsx';
import { Button } from '../common/controls.tsx';

const SET_TITLES = { simple: 'Simple · A', complex: 'Complex · B', conceptual: 'Conceptual · C' } as const;

function Thumb({ stimulus }: { stimulus: Stimulus }) {
  if (stimulus.image) return <TensorImage tensor={stimulus.image} size={72} label={stimulus.name} />;
  if (stimulus.variants && stimulus.variants.shape[0] > 0) {
    return <TensorImage tensor={imageOf(stimulus.variants, 0)} size={72} label={`${stimulus.name} (variant 1)`} className="is-variant" />;
  }
  return <div className="stim-tile__word">{stimulus.name}</div>;
}

export function StimulusGrid(props: { manifest: Manifest; subject: number; stimulus: number; condition: ViewCondition }) {
  const { manifest, subject, stimulus, condition } = props;
  const set = useSelectionStore((s) => s.set);
  return (
    <nav className="stim-grid" aria-label="Stimuli">
      {stimuliBySet(manifest).map(({ set: name, stimuli }) => (
        <section key={name} className="stim-grid__set">
          <h3 className="stim-grid__title">{SET_TITLES[name]}</h3>
          <div className="stim-grid__tiles">
            {stimuli.map((s) => {
              const n = trialIndices(manifest, subject, s.id, condition).length;
              return (
                <Button
                  key={s.id}
                  kind="tile"
                  className={`stim-tile ${s.id === stimulus ? 'is-active' : ''}`}
                  onClick={() => set({ stimulus: s.id, trial: null })}
                  disabled={n === 0}
                  title={`${s.name} — cue "${s.cue}" — ${n} ${condition} trials`}
                  data-testid={`stimulus-${s.id}`}
                >
                  <Thumb stimulus={s} />
                  <span className="stim-tile__cue">{s.cue}</span>
                  <span className="stim-tile__name">{s.name}</span>
                  <span className="stim-tile__count">{n}×</span>
                </Button>
              );
            })}
          </div>
        </section>
      ))}
    </nav>
  );
}

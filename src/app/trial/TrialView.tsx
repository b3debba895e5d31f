// The trial view: what was shown (ground truth), what was decoded from the betas (one heatmap per
// head), which stimulus the decoded image embedding identifies, and the betas on the cortex.
import { useEffect } from 'react';
import type { Manifest } from '../../core/bundle/manifest.ts';
import { useDecodeStore } from '../../state/decodeStore.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import { decodeKey, type ResolvedSelection } from '../../state/selectors.ts';
import type { DecodeNormalization } from '../../core/decode/protocol.ts';
import { decodeSelection } from '../actions.ts';
import { TensorImage, imageOf } from '../common/TensorImage.tsx';
import { formatMs } from '../common/format.ts';
import { Button, Checkbox, Slider } from '../common/controls.tsx';
import { CortexSlot } from '../shell/panels.tsx';
import { HeadHeatmap } from './HeadHeatmap.tsx';
import { GalleryMatches, StimulusRanking } from './Identification.tsx';

function TrialControls({ manifest, r }: { manifest: Manifest; r: ResolvedSelection }) {
  const set = useSelectionStore((s) => s.set);
  const repeats = useSelectionStore((s) => s.repeats);
  const max = r.candidates.length;
  return (
    <div className="trial-controls">
      <div className="trial-controls__group">
        <span className="label">Trial</span>
        <div className="chips" role="radiogroup" aria-label="Repeat">
          {r.candidates.map((t) => {
            const trial = manifest.trials[t];
            const active = !r.average && t === r.trial;
            return (
              <Button
                key={t}
                kind="tile"
                role="radio"
                aria-checked={active}
                className={`chip ${active ? 'is-active' : ''} ${r.average && r.trials.includes(t) ? 'is-averaged' : ''}`}
                onClick={() => set({ trial: t, repeats: 1 })}
                title={`trial #${t}, run ${trial.run}, repeat ${trial.repeat + 1}`}
                data-testid={`trial-${t}`}
              >
                {trial.repeat + 1}
              </Button>
            );
          })}
        </div>
      </div>
      <label className="trial-controls__group">
        <span className="label">Average repeats</span>
        <Slider min={1} max={max} value={Math.min(repeats, max)} onValue={(v) => set({ repeats: v })} data-testid="repeats" />
        <span className="trial-controls__value">
          {Math.min(repeats, max) === 1 ? 'single trial' : `${Math.min(repeats, max)} of ${max}`}
        </span>
      </label>
    </div>
  );
}

function NormalizeToggle({ r }: { r: ResolvedSelection }) {
  const set = useSelectionStore((s) => s.set);
  const normalize = useSelectionStore((s) => s.normalize);
  return (
    <div className="trial-controls">
      <label className="trial-controls__group" title="MIRAGE's prediction normalisation: z-score each output dimension across a batch of predictions, then rescale to the training targets' mean/std">
        <Checkbox checked={normalize} onChange={(e) => set({ normalize: e.currentTarget.checked })} data-testid="normalize" />
        <span className="label">Normalise (MIRAGE)</span>
        {normalize && <span className="muted">over the {r.condition} batch of all stimuli (trial/repeat choice not used)</span>}
      </label>
    </div>
  );
}

/** Which batch the shown predictions were normalised over (or why a head is raw). */
function NormalizationNote({ norm }: { norm: DecodeNormalization }) {
  const missing = Object.entries(norm.heads).flatMap(([name, h]) => (h && 'missing' in h ? [name] : []));
  const constant = Object.entries(norm.heads).flatMap(([name, h]) => (h && 'batch' in h && h.batch.constantDims > 0 ? [`${name}: ${h.batch.constantDims}`] : []));
  return (
    <div className="normalization-note" data-testid="normalization-batch" data-size={norm.stimuli.length}>
      <strong>{norm.description}</strong>
      <div className="muted">
        Showing stimulus {norm.stimulus}'s row of the batch (stimuli {norm.stimuli.join(', ')}). Per output dimension: (pred − batch mean) / batch std
        (population), × training-target std + training-target mean. Identification below uses the normalised image embedding.
        {constant.length > 0 && ` Constant dimensions set to the target mean: ${constant.join(', ')}.`}
      </div>
      {missing.length > 0 && (
        <div className="normalization-note__missing" data-testid="normalization-missing">
          No training-target mean/std for head{missing.length > 1 ? 's' : ''} {missing.join(', ')}: shown raw (not normalised).
        </div>
      )}
    </div>
  );
}

function GroundTruth({ manifest, stimulusId }: { manifest: Manifest; stimulusId: number }) {
  const s = manifest.stimuli.find((x) => x.id === stimulusId);
  if (!s) return null;
  return (
    <div className="ground-truth">
      {s.image ? (
        <TensorImage tensor={s.image} size={220} label={`ground truth: ${s.name}`} />
      ) : s.variants ? (
        <div className="ground-truth__variants">
          {Array.from({ length: Math.min(4, s.variants.shape[0]) }, (_, i) => (
            <TensorImage key={i} tensor={imageOf(s.variants!, i)} size={106} label={`${s.name} variant ${i + 1}`} />
          ))}
        </div>
      ) : (
        <div className="ground-truth__word">{s.name}</div>
      )}
      <div className="ground-truth__meta">
        <div className="ground-truth__name">
          <span className="cue">{s.cue}</span> {s.name}{' '}
          <span className="muted">
            · {s.set} · id {s.id}
          </span>
        </div>
        <div className="muted ground-truth__caption">“{s.caption}”</div>
        {!s.image && <div className="muted">No single ground-truth image (conceptual stimulus).</div>}
      </div>
    </div>
  );
}

export function TrialView({ manifest, r }: { manifest: Manifest; r: ResolvedSelection }) {
  const normalize = useSelectionStore((s) => s.normalize);
  const key = decodeKey(r, normalize);
  const status = useDecodeStore((s) => s.status);
  const current = useDecodeStore((s) => s.current);
  const backendStatus = useDecodeStore((s) => s.backendStatus);
  useEffect(() => {
    void decodeSelection();
  }, [key, backendStatus]);
  const subject = manifest.subjects.find((s) => s.id === r.subject)!;
  const trial = manifest.trials[r.trial];
  const entry = current?.key === key ? current : null;
  const resp = entry?.response;
  return (
    <div className="trial-view">
      <div className="trial-view__col">
        <section className="card trial-view__truth">
          <h2 className="card__title">
            {r.condition === 'vision' ? 'Seen' : 'Imagined'} stimulus
            <span className="muted card__sub">
              {subject.label} · run {trial.run} ·{' '}
              {r.average
                ? `average of ${r.trials.length} repeats`
                : `repeat ${trial.repeat + 1} of ${r.candidates.length}`}
            </span>
          </h2>
          <GroundTruth manifest={manifest} stimulusId={r.stimulus} />
          <TrialControls manifest={manifest} r={r} />
          <NormalizeToggle r={r} />
        </section>

        <section className="card trial-view__ident">
          <h2 className="card__title">
            Identification among the 18 stimuli
            {entry?.response.normalization?.heads.image && 'batch' in entry.response.normalization.heads.image && (
              <span className="muted card__sub">normalised image embedding</span>
            )}
          </h2>
          {entry?.identifyStimuli ? (
            <StimulusRanking manifest={manifest} result={entry.identifyStimuli} truth={r.stimulus} />
          ) : (
            <div className="placeholder">
              {entry ? 'This bundle has no image-embedding features of the stimuli.' : '…'}
            </div>
          )}
        </section>

        <section className="card trial-view__gallery">
          <h2 className="card__title">Nearest training images</h2>
          {entry?.identifyGallery ? (
            <GalleryMatches manifest={manifest} result={entry.identifyGallery} />
          ) : (
            <div className="placeholder">{entry ? 'This bundle has no gallery features.' : '…'}</div>
          )}
        </section>
      </div>

      <div className="trial-view__col">
        <section className="card trial-view__decoded">
          <h2 className="card__title">
            Decoded features
            <span className="muted card__sub" data-testid="decode-status" data-status={entry ? 'done' : status}>
              {entry && resp
                ? `${resp.backend} · predict ${formatMs(resp.timing.predictMs)} · heads ${formatMs(resp.timing.headsMs)} · betas ${formatMs(resp.timing.betasMs)}`
                : status === 'running'
                  ? 'decoding…'
                  : status === 'error'
                    ? 'failed'
                    : 'waiting'}
            </span>
          </h2>
          {entry && resp ? (
            <div className="heatmaps">
              {resp.normalization && <NormalizationNote norm={resp.normalization} />}
              {subject.heads.map((h) => {
                const p = resp.predictions[h.name];
                return p ? <HeadHeatmap key={h.name} head={h} prediction={p} /> : null;
              })}
              <p className="muted source-note">
                Ridge decoders of this bundle ({manifest.provenance.kind}), {subject.voxelCount.toLocaleString()} voxels
                → reduced rank, float16 weights;{' '}
                {resp.normalization ? 'normalised across the batch named above.' : 'raw output, not normalised across a batch (single selection).'}
              </p>
            </div>
          ) : (
            <div className="placeholder placeholder--busy">
              {status === 'error' ? 'Decoding failed (see the error above).' : 'Decoding…'}
            </div>
          )}
        </section>

        <section className="card trial-view__cortex">
          <h2 className="card__title">
            Betas on the cortex <span className="muted card__sub">z-scored per voxel within run ({trial.run})</span>
          </h2>
          <CortexSlot />
        </section>
      </div>
    </div>
  );
}

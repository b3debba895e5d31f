// "Reconstruct perturbed state": a full MIRAGE reconstruction of the stimulus before and after the
// current perturbation stack, side by side with their captions. The cortex worker computes the
// stack's exact raw head changes for the stimulus (the mean of its repeats, as a reconstruction
// decodes it); the app's generate worker (src/app/reconstruct/client.ts, documented in
// src/app/reconstruct/api.ts) maps them through MIRAGE's normalisation and reconstructs. Both runs
// use the same seed, so the only difference between the two images is the perturbation.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { BundleLocation } from '../../state/bundleStore.ts';
import { toAppError } from '../../state/bundleStore.ts';
import { cancelReconstruction, reconstructPerturbed } from '../reconstruct/client.ts';
import type { DisplayImage, GenerateProgress, HeadDeltas, ReconstructReply } from '../../core/generate/protocol.ts';
import { cortexClient } from './client.ts';
import { Button, ProgressBar } from '../common/controls.tsx';

const HEADS = ['image', 'text', 'blurry', 'retrieval', 'prompt'] as const;
const SEED = 0;

function Bitmap({ image, testId, label }: { image: DisplayImage; testId: string; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c || !image.bitmap.width) return;
    c.width = image.bitmap.width;
    c.height = image.bitmap.height;
    c.getContext('2d')?.drawImage(image.bitmap, 0, 0);
  }, [image]);
  return <canvas ref={ref} className="cortex__recon-img" data-testid={testId} aria-label={label} />;
}

function Result({ reply, which }: { reply: ReconstructReply; which: 'before' | 'after' }) {
  const best = reply.candidates[reply.best];
  const label = which === 'before' ? 'unperturbed' : 'perturbed';
  return (
    // data-score: the chosen candidate's retrieval score (cosine to the decoded retrieval features),
    // which any change of the decoded heads moves even when the demo's mixture prior picks the same scene.
    <figure className="cortex__recon-fig" data-testid={`cortex-recon-${which}`} data-score={reply.scores[reply.best]}>
      {best ? <Bitmap image={best} testId={`cortex-recon-${which}-img`} label={`${label} reconstruction`} /> : null}
      <figcaption>
        <strong>{label}</strong>
        <span data-testid={`cortex-recon-${which}-caption`}>“{reply.caption}”</span>
      </figcaption>
    </figure>
  );
}

interface Props {
  location: BundleLocation;
  subject: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  /** What the stack does, e.g. "silence V1", for the reply's label. */
  stackLabel: string;
  simulated: boolean;
}

type Phase = { kind: 'idle' } | { kind: 'running'; text: string; fraction: number } | { kind: 'done' } | { kind: 'cancelled' } | { kind: 'error'; message: string };

export function PerturbedReconstruction({ location, subject, stimulus, condition, stackLabel, simulated }: Props) {
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [before, setBefore] = useState<ReconstructReply | null>(null);
  const [after, setAfter] = useState<ReconstructReply | null>(null);
  const run = useRef(0);
  const key = `${subject}|${stimulus}|${condition}`;
  const [shownKey, setShownKey] = useState(key);
  if (shownKey !== key) {
    // Another stimulus or condition: the old pair no longer describes this view (reset during render).
    setShownKey(key);
    setBefore(null);
    setAfter(null);
    setPhase({ kind: 'idle' });
  }

  const start = useCallback(async () => {
    const id = ++run.current;
    const live = () => run.current === id;
    const progress = (what: string, offset: number) => (p: GenerateProgress) => {
      if (!live()) return;
      const f = (p.stageIndex + p.step / Math.max(1, p.total)) / Math.max(1, p.stageCount);
      setPhase({ kind: 'running', text: `${what}: ${p.stage} ${p.step}/${p.total}`, fraction: (offset + f) / 2 });
    };
    try {
      setAfter(null);
      setPhase({ kind: 'running', text: 'computing the head changes of the stack…', fraction: 0 });
      const d = await cortexClient().headDeltas(stimulus, condition);
      const headDeltas: HeadDeltas = {};
      for (const h of HEADS) if (d.deltas[h]) headDeltas[h] = d.deltas[h];
      let base = before;
      if (!base || base.request.stimulus !== stimulus || base.request.condition !== condition || base.request.subject !== subject) {
        base = await reconstructPerturbed(location, { subject, stimulus, condition, settings: { seed: SEED } }, { onProgress: progress('unperturbed', 0) });
        if (!live()) return;
        setBefore(base);
      }
      const pert = await reconstructPerturbed(
        location,
        { subject, stimulus, condition, settings: { seed: SEED }, headDeltas, deltaLabel: stackLabel },
        { onProgress: progress('perturbed', 1) },
      );
      if (!live()) return;
      setAfter(pert);
      setPhase({ kind: 'done' });
    } catch (e) {
      if (!live()) return;
      const err = toAppError('reconstruct', e);
      setPhase(/abort|cancel/i.test(err.message) ? { kind: 'cancelled' } : { kind: 'error', message: err.message });
    }
  }, [before, location, subject, stimulus, condition, stackLabel]);

  const cancel = useCallback(() => {
    run.current++;
    setPhase({ kind: 'cancelled' });
    cancelReconstruction('cortex');
  }, []);

  return (
    <div className="cortex__recon" data-testid="cortex-recon" data-phase={phase.kind}>
      <div className="cortex__buttons cortex__controls">
        <Button kind="primary" onClick={() => void start()} disabled={phase.kind === 'running'} data-testid="cortex-recon-run">
          Reconstruct perturbed state
        </Button>
        {phase.kind === 'running' && (
          <Button onClick={cancel} data-testid="cortex-recon-cancel">
            Cancel
          </Button>
        )}
      </div>
      {phase.kind === 'running' && (
        <div className="cortex__recon-progress" data-testid="cortex-recon-progress">
          <ProgressBar fraction={phase.fraction} label={phase.text} />
        </div>
      )}
      {phase.kind === 'cancelled' && <div className="muted small">Cancelled.</div>}
      {phase.kind === 'error' && (
        <div className="cortex__error" role="alert">
          {phase.message}
        </div>
      )}
      <div className="cortex__recon-pair">
        {before && <Result reply={before} which="before" />}
        {after && <Result reply={after} which="after" />}
      </div>
      {after?.perturbed && <div className="muted small" data-testid="cortex-recon-note">{after.perturbed}. Same seed ({SEED}) for both{simulated ? ' · simulated model pack' : ''}.</div>}
    </div>
  );
}

// "Reconstruct the whole stimulus set": MIRAGE's pipeline run on every stimulus with a ground-truth
// image of the selected subject, vision and imagery, in the generate worker (progress per
// reconstruction and stage, cancel). The results join this session's reconstructions, which the
// dashboard then evaluates: that gives a bundle without reconstructions (the demo) its own point
// on the vision-vs-imagery scatter beside MIRAGE Table 1.
import { useMemo, useRef, useState } from 'react';
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { BundleLocation } from '../../state/bundleStore.ts';
import { useGenerateDeviceStore } from '../../state/generateDeviceStore.ts';
import { reconstructStimulusSet, stimulusSetJobs, type StimulusSetProgress } from '../reconstruct/stimulusSet.ts';
import { Button, ProgressBar } from '../common/controls.tsx';

type RunState = { kind: 'idle' } | { kind: 'running'; p: StimulusSetProgress } | { kind: 'done'; made: number; cancelled: boolean } | { kind: 'error'; message: string };

export function StimulusSetRun({ manifest, location, subject }: { manifest: Manifest; location: BundleLocation; subject: number }) {
  const jobs = useMemo(() => stimulusSetJobs(manifest, subject), [manifest, subject]);
  const device = useGenerateDeviceStore((s) => s.device);
  const [state, setState] = useState<RunState>({ kind: 'idle' });
  const abort = useRef<AbortController | null>(null);
  const stimuli = jobs.length / 2;
  if (!jobs.length) return null;

  const start = async () => {
    const ac = new AbortController();
    abort.current = ac;
    setState({ kind: 'running', p: { done: 0, total: jobs.length, label: 'opening the model pack', fraction: 0 } });
    try {
      const r = await reconstructStimulusSet(jobs, { location, device, signal: ac.signal, onProgress: (p) => setState({ kind: 'running', p }) });
      setState({ kind: 'done', made: r.replies.length, cancelled: r.cancelled });
    } catch (e) {
      setState({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
    } finally {
      abort.current = null;
    }
  };

  return (
    <div className="eval-set" data-testid="eval-set" data-status={state.kind}>
      {state.kind === 'running' ? (
        <>
          <ProgressBar fraction={state.p.fraction} label={`Reconstructing ${state.p.done + 1 > state.p.total ? state.p.total : state.p.done + 1}/${state.p.total}: ${state.p.label}`} testid="eval-set-progress" />
          <Button onClick={() => abort.current?.abort()} data-testid="eval-set-cancel">
            Cancel
          </Button>
        </>
      ) : (
        <>
          <Button kind="primary" onClick={() => void start()} data-testid="eval-set-run" title="MIRAGE's settings, one seed; the Reconstruction tab's device choice">
            Reconstruct all {stimuli} stimuli of subject {subject} (vision + imagery) and evaluate
          </Button>
          <span className="muted">
            {state.kind === 'done'
              ? `${state.made} of ${jobs.length} reconstructions made${state.cancelled ? ' (cancelled)' : ''}; they are evaluated with this session's.`
              : state.kind === 'error'
                ? `Failed: ${state.message}`
                : `${jobs.length} runs of the pipeline in the generate worker; gives this bundle its point on the scatter.`}
          </span>
        </>
      )}
    </div>
  );
}

// The dashboard's own evaluation of the open bundle: progress with cancel, and the images of a
// result row (reconstruction beside its ground truth), both fetched from the evaluate worker.
import { useEffect, useState } from 'react';
import type { ResultRow } from '../../core/evaluate/tables.ts';
import type { EvaluateRequest, RgbBytes } from '../../core/evaluate/protocol.ts';
import { evaluateClient, type EvalStatus } from './client.ts';
import { RgbCanvas } from '../common/RgbCanvas.tsx';
import { Button, ProgressBar } from '../common/controls.tsx';

export function EvalProgress(props: { status: EvalStatus; available: boolean; onRun: () => void; onCancel: () => void }) {
  const { status } = props;
  if (!props.available && status.kind === 'idle') {
    return (
      <p className="eval-status" data-testid="eval-status" data-status="none">
        This bundle has no reconstructions yet. Reconstruct its whole stimulus set below, make one in the Reconstruction tab, or import published ones with{' '}
        <code>mirage import recons</code>.
      </p>
    );
  }
  if (status.kind === 'running') {
    const frac = status.total ? status.done / status.total : null;
    return (
      <div className="eval-status" data-testid="eval-status" data-status="running">
        <ProgressBar fraction={frac} label={`Evaluating in a worker: ${status.done}/${status.total || '?'} — ${status.label}`} testid="eval-progress" />
        <Button onClick={props.onCancel} data-testid="eval-cancel">
          Cancel
        </Button>
      </div>
    );
  }
  return (
    <div className="eval-status" data-testid="eval-status" data-status={status.kind}>
      {status.kind === 'done' && (
        <span>
          Evaluated {status.result.rows.length} reconstruction{status.result.rows.length === 1 ? '' : 's'} of this bundle and this session.
        </span>
      )}
      {status.kind === 'cancelled' && <span>Evaluation cancelled.</span>}
      {status.kind === 'error' && <span className="error">Evaluation failed: {status.message}</span>}
      <Button onClick={props.onRun} data-testid="eval-run">
        {status.kind === 'done' ? 'Evaluate again' : 'Evaluate this bundle'}
      </Button>
    </div>
  );
}

/** Reconstruction and ground truth of one row, side by side. */
export function RowImages({ request, row }: { request: EvaluateRequest; row: ResultRow }) {
  const [imgs, setImgs] = useState<{ recon: RgbBytes; gt: RgbBytes } | null>(null);
  useEffect(() => {
    let live = true;
    evaluateClient()
      .images(request, { method: row.method, subject: row.subject, condition: row.condition, stimulus: row.stimulus, repetition: row.repetition })
      .then((r) => live && setImgs(r), () => live && setImgs(null));
    return () => {
      live = false;
    };
  }, [request, row]);
  if (!imgs) return <div className="eval-thumbs eval-thumbs--empty" />;
  return (
    <div className="eval-thumbs">
      <div>
        <RgbCanvas image={imgs.gt} label={`ground truth, stimulus ${row.stimulus}`} className="eval-thumb" />
        <span>ground truth</span>
      </div>
      <div>
        <RgbCanvas image={imgs.recon} label={`${row.method} reconstruction`} className="eval-thumb" />
        <span>reconstruction</span>
      </div>
    </div>
  );
}

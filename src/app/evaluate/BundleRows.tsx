// The dashboard's own evaluation of the open bundle: progress with cancel, and the images of a
// result row (reconstruction beside its ground truth), both fetched from the evaluate worker.
import { useEffect, useRef, useState } from 'react';
import type { ResultRow } from '../../core/evaluate/tables.ts';
import type { EvaluateRequest, RgbBytes } from '../../core/evaluate/protocol.ts';
import { evaluateClient, type EvalStatus } from './client.ts';

export function EvalProgress(props: { status: EvalStatus; available: boolean; onRun: () => void; onCancel: () => void }) {
  const { status } = props;
  if (!props.available && status.kind === 'idle') {
    return (
      <p className="eval-status" data-testid="eval-status" data-status="none">
        This bundle has no reconstructions to evaluate. Import published ones with <code>mirage import recons</code>, or make one in the Reconstruction tab
        and come back.
      </p>
    );
  }
  if (status.kind === 'running') {
    const frac = status.total ? status.done / status.total : 0;
    return (
      <div className="eval-status" data-testid="eval-status" data-status="running">
        <div className="eval-progress" role="progressbar" aria-valuenow={Math.round(frac * 100)} aria-valuemin={0} aria-valuemax={100}>
          <div className="eval-progress__bar" style={{ width: `${(frac * 100).toFixed(1)}%` }} />
        </div>
        <span>
          Evaluating this bundle in a worker: {status.done}/{status.total || '?'} — {status.label}
        </span>
        <button type="button" onClick={props.onCancel} data-testid="eval-cancel">
          Cancel
        </button>
      </div>
    );
  }
  return (
    <div className="eval-status" data-testid="eval-status" data-status={status.kind}>
      {status.kind === 'done' && <span>Evaluated {status.result.rows.length} reconstructions of this bundle.</span>}
      {status.kind === 'cancelled' && <span>Evaluation cancelled.</span>}
      {status.kind === 'error' && <span className="error">Evaluation failed: {status.message}</span>}
      <button type="button" onClick={props.onRun} data-testid="eval-run">
        {status.kind === 'done' ? 'Evaluate again' : 'Evaluate this bundle'}
      </button>
    </div>
  );
}

function RgbCanvas({ image, label }: { image: RgbBytes; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    c.width = image.width;
    c.height = image.height;
    const rgba = new Uint8ClampedArray(image.width * image.height * 4);
    for (let i = 0, j = 0; j < image.rgb.length; i += 4, j += 3) {
      rgba[i] = image.rgb[j];
      rgba[i + 1] = image.rgb[j + 1];
      rgba[i + 2] = image.rgb[j + 2];
      rgba[i + 3] = 255;
    }
    c.getContext('2d')?.putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  }, [image]);
  return <canvas ref={ref} className="eval-thumb" aria-label={label} title={label} />;
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
        <RgbCanvas image={imgs.gt} label={`ground truth, stimulus ${row.stimulus}`} />
        <span>ground truth</span>
      </div>
      <div>
        <RgbCanvas image={imgs.recon} label={`${row.method} reconstruction`} />
        <span>reconstruction</span>
      </div>
    </div>
  );
}

// "Before" and "after" low-level images of the cortex panel: the blurry head's prediction for the
// unperturbed and the perturbed trial, each decoded by the bundle's low-level decoder (64x64 RGB),
// drawn pixelated at a readable size. Labelled with the head and "simulated" when the decoder is.
import type { RgbImage } from '../../core/base/image.ts';
import type { LowLevelResult } from '../../core/cortex/protocol.ts';
import { RgbCanvas } from '../common/RgbCanvas.tsx';

function LowLevelFigure({ img, testId, label }: { img: RgbImage; testId: string; label: string }) {
  return (
    <figure className="cortex__lowlevel-fig">
      <RgbCanvas image={{ rgb: img.data, width: img.width, height: img.height }} testId={testId} className="cortex__lowlevel-img" label={label} />
      <figcaption>{label}</figcaption>
    </figure>
  );
}

export function LowLevelPair({ result }: { result: LowLevelResult | null }) {
  if (!result) return <div className="muted">Decoding the low-level image…</div>;
  if (!result.available) {
    return (
      <div className="muted" data-testid="cortex-lowlevel-note">
        No low-level image: {result.reason}.
      </div>
    );
  }
  const sim = result.kind === 'simulated' ? ' · simulated' : '';
  let diff = 0;
  for (let i = 0; i < result.after.data.length; i++) diff += Math.abs(result.after.data[i] - result.before.data[i]);
  const meanDiff = diff / Math.max(1, result.after.data.length);
  return (
    <div
      data-testid="cortex-lowlevel"
      data-ep={result.executionProvider}
      data-mean-abs-diff={meanDiff}
      title={`decoder provider chosen by probe: ${result.providerTrials.map((t) => (t.ms === null ? `${t.provider} failed (${t.error})` : `${t.provider} ${t.ms.toFixed(1)} ms`)).join(', ')}`}
    >
      <div className="cortex__lowlevel">
        <LowLevelFigure img={result.before} testId="cortex-lowlevel-before" label={`before · ${result.head} head${sim}`} />
        <LowLevelFigure img={result.after} testId="cortex-lowlevel-after" label={`after · ${result.head} head${sim}`} />
      </div>
      <div className="muted cortex__facts">
        {result.head} head → low-level decoder ({result.after.width}×{result.after.height}, {result.executionProvider}, fastest working provider) in {result.ms.toFixed(1)} ms · mean |after − before| {meanDiff.toFixed(2)} / 255{sim ? ' · simulated decoder, not VDVAE' : ''}
      </div>
    </div>
  );
}

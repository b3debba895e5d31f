// "Before" and "after" low-level images of the cortex panel: the blurry head's prediction for the
// unperturbed and the perturbed trial, each decoded by the bundle's low-level decoder (64x64 RGB),
// drawn pixelated at a readable size. Labelled with the head and "simulated" when the decoder is.
import { useEffect, useRef } from 'react';
import { rgbToRgba, type RgbImage } from '../../core/base/image.ts';
import type { LowLevelResult } from '../../core/cortex/protocol.ts';

function RgbCanvas({ img, testId, label }: { img: RgbImage; testId: string; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    c.width = img.width;
    c.height = img.height;
    // CPU-backed (see common/TensorImage.tsx): putImageData without a wait on the GPU process.
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    ctx.putImageData(new ImageData(rgbToRgba(img.data), img.width, img.height), 0, 0);
  }, [img]);
  return (
    <figure className="cortex__lowlevel-fig">
      <canvas ref={ref} data-testid={testId} className="cortex__lowlevel-img" aria-label={label} />
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
        <RgbCanvas img={result.before} testId="cortex-lowlevel-before" label={`before · ${result.head} head${sim}`} />
        <RgbCanvas img={result.after} testId="cortex-lowlevel-after" label={`after · ${result.head} head${sim}`} />
      </div>
      <div className="muted cortex__facts">
        {result.head} head → low-level decoder ({result.after.width}×{result.after.height}, {result.executionProvider}, fastest working provider) in {result.ms.toFixed(1)} ms · mean |after − before| {meanDiff.toFixed(2)} / 255{sim ? ' · simulated decoder, not VDVAE' : ''}
      </div>
    </div>
  );
}

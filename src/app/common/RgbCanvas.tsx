// Draws uint8 RGB bytes (HWC) on a canvas: the evaluate worker's images of a result row, and this
// session's reconstructions in the audience mode, the cortex panel's low-level pair. Small images only (reconstruction size).
import { useEffect, useRef } from 'react';
import { rgbToRgba } from '../../core/base/image.ts';

export interface RgbPixels {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export function RgbCanvas({ image, label, className, testId }: { image: RgbPixels; label: string; className?: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    c.width = image.width;
    c.height = image.height;
    // CPU-backed (see TensorImage.tsx): putImageData without a wait on the GPU process.
    c.getContext('2d', { willReadFrequently: true })?.putImageData(new ImageData(rgbToRgba(image.rgb), image.width, image.height), 0, 0);
  }, [image.rgb, image.width, image.height]);
  return <canvas ref={ref} className={className} data-testid={testId} aria-label={label} title={label} role="img" />;
}

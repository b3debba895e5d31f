// Draws uint8 RGB bytes (HWC) on a canvas: the evaluate worker's images of a result row, and this
// session's reconstructions in the audience mode. Small images only (reconstruction size).
import { useEffect, useRef } from 'react';

export interface RgbPixels {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export function RgbCanvas({ image, label, className }: { image: RgbPixels; label: string; className?: string }) {
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
  return <canvas ref={ref} className={className} aria-label={label} title={label} role="img" />;
}

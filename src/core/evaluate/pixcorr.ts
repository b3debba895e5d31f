// PixCorr as MindEye/MIRAGE: both images resized (bilinear, shorter edge -> size), flattened over
// all RGB values (C, H, W order in the reference; Pearson r does not depend on the order), Pearson
// r per image pair, averaged over images by the caller.
import type { FloatImage } from './image.ts';
import { checkImage, toRgb } from './image.ts';
import { pearson } from './correlation.ts';

/** Pearson r over all values of two images of equal shape (grey inputs are broadcast to RGB). */
export function pixCorr(a: FloatImage, b: FloatImage): number {
  checkImage(a, 'pixcorr image 1');
  checkImage(b, 'pixcorr image 2');
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`pixcorr: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height}); resize first`);
  }
  return pearson(toRgb(a).data, toRgb(b).data);
}

// The pixel metrics of one (ground truth, reconstruction) pair, as the reference pipeline runs them:
// resize the ground truth to `size` (torchvision Resize semantics, shorter edge) and the
// reconstruction to the same height x width, PixCorr on RGB, SSIM on rgb2gray. `PreparedGroundTruth` does the ground-truth half once (resize, grey, filtered SSIM
// statistics, centred pixels) so that 10 repetitions x N methods do not redo it.
import type { FloatImage } from './image.ts';
import { checkImage, rgb2gray, toRgb } from './image.ts';
import { resizeBilinear, resizeShorterEdge } from './resize.ts';
import type { SsimSide } from './ssim.ts';
import { ssimFromSides, ssimSide } from './ssim.ts';

/** MIRAGE resizes to 512, MindEye to 425. */
export const MIRAGE_EVAL_SIZE = 512;
export const MINDEYE_EVAL_SIZE = 425;

export interface PixelMetricOptions {
  /** shorter edge after resizing; default 512 (MIRAGE) */
  size?: number;
  /** torch antialias flag of the resize; default true (torchvision >= 0.17) */
  antialias?: boolean;
  precision?: 'float32' | 'float64';
}

export interface PixelMetrics {
  pixcorr: number;
  ssim: number;
  size: number;
  antialias: boolean;
}

export interface PreparedGroundTruth {
  width: number;
  height: number;
  options: Required<PixelMetricOptions>;
  /** centred RGB values (float64) and their sum of squares */
  centred: Float64Array;
  sumSq: number;
  ssim: SsimSide;
}

function resolve(opts: PixelMetricOptions): Required<PixelMetricOptions> {
  return { size: opts.size ?? MIRAGE_EVAL_SIZE, antialias: opts.antialias ?? true, precision: opts.precision ?? 'float32' };
}

export function prepareGroundTruth(gt: FloatImage, opts: PixelMetricOptions = {}): PreparedGroundTruth {
  checkImage(gt, 'ground truth');
  const o = resolve(opts);
  const g = toRgb(resizeShorterEdge(gt, o.size, { antialias: o.antialias }));
  const n = g.data.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += g.data[i];
  m /= n;
  const centred = new Float64Array(n);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = g.data[i] - m;
    centred[i] = d;
    ss += d * d;
  }
  return { width: g.width, height: g.height, options: o, centred, sumSq: ss, ssim: ssimSide(rgb2gray(g), g.width, g.height, { precision: o.precision }) };
}

/** PixCorr and SSIM of one reconstruction against a prepared ground truth. */
export function pixelMetricsPrepared(gt: PreparedGroundTruth, recon: FloatImage): PixelMetrics {
  checkImage(recon, 'reconstruction');
  const o = gt.options;
  // MIRAGE resizes reconstructions to exactly (512, 512) (`Resize((512, 512))`), then both sides
  // with Resize(512): for a square ground truth that is the reconstruction at the ground truth's
  // resized size, which is what we do for any aspect ratio.
  const r = toRgb(resizeBilinear(recon, gt.height, gt.width, { antialias: o.antialias }));
  const n = r.data.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += r.data[i];
  m /= n;
  let sab = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const d = r.data[i] - m;
    sab += gt.centred[i] * d;
    sbb += d * d;
  }
  let pixcorr = sab / Math.sqrt(gt.sumSq * sbb);
  if (pixcorr > 1) pixcorr = 1;
  else if (pixcorr < -1) pixcorr = -1;
  // skimage is called as structural_similarity(recon, gt): im1 = reconstruction
  const recSide = ssimSide(rgb2gray(r), r.width, r.height, { precision: o.precision });
  const ssim = ssimFromSides(recSide, gt.ssim, { precision: o.precision });
  return { pixcorr, ssim, size: o.size, antialias: o.antialias };
}

/** One pair, no caching. */
export function pixelMetrics(gt: FloatImage, recon: FloatImage, opts: PixelMetricOptions = {}): PixelMetrics {
  return pixelMetricsPrepared(prepareGroundTruth(gt, opts), recon);
}

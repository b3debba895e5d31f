// Published NSD-Imagery results (MIRAGE Table 1; docs/background.md §6), as typed data so that the
// dashboard and the tables can put this bundle's numbers beside them. Identification columns are
// percentages as printed; Eff and SwAV are correlation distances (lower is better). These are
// results on the real NSD-Imagery data, averaged over subjects 1, 2, 5 and 7, not on any bundle.
import type { MetricKey } from './metrics.ts';

export const MIRAGE_TABLE1_CITATION =
  'Kneeland et al. (2026), MIRAGE, arXiv:2605.17198, Table 1: NSD-Imagery, mean over subjects 1, 2, 5, 7';
export const PUBLISHED_LABEL = 'published, real NSD-Imagery (MIRAGE Table 1)';

export type PublishedMetricKey = 'pixcorr' | 'ssim' | 'alex2' | 'alex5' | 'incep' | 'clip' | 'eff' | 'swav';
export type PublishedValues = Record<PublishedMetricKey, number>;

export interface PublishedMethod {
  method: string;
  vision: PublishedValues;
  imagery: PublishedValues;
}

const row = (v: [number, number, number, number, number, number, number, number]): PublishedValues => ({
  pixcorr: v[0],
  ssim: v[1],
  alex2: v[2],
  alex5: v[3],
  incep: v[4],
  clip: v[5],
  eff: v[6],
  swav: v[7],
});

export const PUBLISHED_TABLE1: readonly PublishedMethod[] = [
  { method: 'MIRAGE', imagery: row([0.104, 0.398, 63.92, 62.46, 52.25, 57.46, 0.914, 0.575]), vision: row([0.221, 0.442, 79.03, 76.57, 69.75, 66.69, 0.879, 0.546]) },
  { method: 'MindEye1', imagery: row([0.086, 0.349, 59.56, 61.0, 52.03, 54.72, 0.948, 0.564]), vision: row([0.218, 0.412, 73.56, 80.81, 62.44, 65.34, 0.881, 0.51]) },
  { method: 'Brain Diffuser', imagery: row([0.064, 0.401, 52.14, 58.35, 52.73, 54.07, 0.935, 0.585]), vision: row([0.107, 0.455, 60.34, 72.84, 60.95, 58.31, 0.908, 0.555]) },
  { method: 'iCNN', imagery: row([0.108, 0.34, 50.57, 55.25, 49.39, 41.72, 0.994, 0.56]), vision: row([0.224, 0.385, 71.67, 81.35, 61.16, 49.03, 0.926, 0.524]) },
  { method: 'MindEye2', imagery: row([0.036, 0.414, 47.6, 55.38, 46.02, 50.78, 0.966, 0.591]), vision: row([0.161, 0.48, 70.1, 77.52, 62.69, 65.93, 0.886, 0.512]) },
  { method: 'MindBridge', imagery: row([0.03, 0.2, 44.13, 52.46, 45.55, 49.7, 0.98, 0.627]), vision: row([0.117, 0.352, 58.47, 70.76, 58.83, 64.49, 0.915, 0.565]) },
  { method: 'NeuroPictor', imagery: row([0.022, 0.305, 43.18, 44.85, 44.15, 46.4, 0.994, 0.612]), vision: row([0.055, 0.364, 62.27, 66.42, 49.92, 53.49, 0.949, 0.571]) },
  { method: 'BrainRAM', imagery: row([0.056, 0.372, 51.78, 56.29, 52.52, 53.73, 0.927, 0.577]), vision: row([0.097, 0.409, 63.11, 67.99, 58.5, 59.79, 0.894, 0.53]) },
];

/** Human 2AFC identification accuracy (%), MIRAGE Experiment 1, all stimuli. */
export const PUBLISHED_HUMAN_2AFC: { imagery: Record<string, number>; vision: Record<string, number>; citation: string } = {
  imagery: { MIRAGE: 78.3, MindEye1: 73.0, 'Brain Diffuser': 74.0, iCNN: 66.2, MindEye2: 57.0 },
  vision: { MIRAGE: 84.2, MindEye1: 84.3, MindEye2: 83.1 },
  citation: 'Kneeland et al. (2026), MIRAGE, arXiv:2605.17198, human two-alternative forced-choice identification',
};

/** Published value in the same units as our stored values (identification as a fraction). */
export function publishedAsStored(key: PublishedMetricKey & MetricKey, v: number): number {
  return ['alex2', 'alex5', 'incep', 'clip'].includes(key) ? v / 100 : v;
}

// The metric registry: one place that says what each column of a results table is, which way is
// better and how it is shown (Table 1 prints identification as percentages).
export const METRIC_KEYS = [
  'pixcorr',
  'ssim',
  'alex2',
  'alex5',
  'incep',
  'clip',
  'eff',
  'swav',
  'brain_early',
  'brain_higher',
  'brain_all',
] as const;
export type MetricKey = (typeof METRIC_KEYS)[number];

export interface MetricInfo {
  key: MetricKey;
  /** column label as in MIRAGE Table 1 */
  label: string;
  higherIsBetter: boolean;
  /** how values are displayed: 'percent' multiplies fractions by 100 */
  display: 'number' | 'percent';
  /** unit shown next to numbers */
  unit: string;
  kind: 'pixel' | 'feature' | 'brain';
  description: string;
}

export const METRICS: Record<MetricKey, MetricInfo> = {
  pixcorr: { key: 'pixcorr', label: 'PixCorr', higherIsBetter: true, display: 'number', unit: 'Pearson r', kind: 'pixel', description: 'Pearson r over all RGB pixel values after bilinear resize' },
  ssim: { key: 'ssim', label: 'SSIM', higherIsBetter: true, display: 'number', unit: 'SSIM', kind: 'pixel', description: 'skimage SSIM on rgb2gray, Gaussian window σ=1.5' },
  alex2: { key: 'alex2', label: 'Alex(2)', higherIsBetter: true, display: 'percent', unit: '% 2-way', kind: 'feature', description: 'two-way identification, AlexNet features.4' },
  alex5: { key: 'alex5', label: 'Alex(5)', higherIsBetter: true, display: 'percent', unit: '% 2-way', kind: 'feature', description: 'two-way identification, AlexNet features.11' },
  incep: { key: 'incep', label: 'Incep', higherIsBetter: true, display: 'percent', unit: '% 2-way', kind: 'feature', description: 'two-way identification, InceptionV3 avgpool' },
  clip: { key: 'clip', label: 'CLIP', higherIsBetter: true, display: 'percent', unit: '% 2-way', kind: 'feature', description: 'two-way identification, CLIP ViT-L/14 image embedding' },
  eff: { key: 'eff', label: 'Eff', higherIsBetter: false, display: 'number', unit: 'corr. distance', kind: 'feature', description: 'EfficientNet-B1 avgpool correlation distance' },
  swav: { key: 'swav', label: 'SwAV', higherIsBetter: false, display: 'number', unit: 'corr. distance', kind: 'feature', description: 'SwAV-ResNet50 avgpool correlation distance' },
  brain_early: { key: 'brain_early', label: 'Brain r (early)', higherIsBetter: true, display: 'number', unit: 'Pearson r', kind: 'brain', description: 'encoding-model brain correlation, V1–hV4' },
  brain_higher: { key: 'brain_higher', label: 'Brain r (higher)', higherIsBetter: true, display: 'number', unit: 'Pearson r', kind: 'brain', description: 'encoding-model brain correlation, higher visual' },
  brain_all: { key: 'brain_all', label: 'Brain r (all)', higherIsBetter: true, display: 'number', unit: 'Pearson r', kind: 'brain', description: 'encoding-model brain correlation, all visual cortex' },
};

/** The eight columns of MIRAGE Table 1, in order. */
export const TABLE1_METRICS: MetricKey[] = ['pixcorr', 'ssim', 'alex2', 'alex5', 'incep', 'clip', 'eff', 'swav'];

/** Converts a stored value (fractions for identification) to its display value. */
export function displayValue(key: MetricKey, v: number): number {
  return METRICS[key].display === 'percent' ? v * 100 : v;
}

// Public face of src/core/evaluate: metrics, identification, tables and published numbers.
export * from './image.ts';
export * from './resize.ts';
export * from './ssim.ts';
export * from './pixcorr.ts';
export * from './correlation.ts';
export * from './identification.ts';
export * from './identify.ts';
export * from './retrieval.ts';
export * from './brainCorrelation.ts';
export * from './stats.ts';
export * from './metrics.ts';
export * from './published.ts';
export * from './tables.ts';
export * from './pixelSuite.ts';
export * from './random.ts';
export * from './featurePacks.ts';
export * from './runEval.ts';

// The small SIMULATED bundle + demo model pack the reconstruction specs open
// (src/core/simulate/miniBundle.ts), built once under .cache/test-bundles/, and the short sampler
// settings they reconstruct with.
import { test } from '@playwright/test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { writeMiniReconBundle } from '../../../src/core/simulate/miniBundle.ts';
import type { GenerateSettings } from '../../../src/core/generate/pipeline.ts';

export const RECON_BUNDLE = '.cache/test-bundles/recon-demo';

/** Builds the bundle when its model pack is missing (a previous run's copy is reused). */
export async function ensureReconBundle(): Promise<void> {
  if (existsSync(join(RECON_BUNDLE, 'modelpack', 'modelpack.json'))) return;
  await writeAtomically(RECON_BUNDLE, (sink) => writeMiniReconBundle(sink));
}

/** Registers the spec's beforeAll that builds the bundle (up to 10 minutes on a loaded machine). */
export function useReconBundle(): void {
  test.beforeAll(async () => {
    test.setTimeout(600_000);
    await ensureReconBundle();
  });
}

/**
 * A quick reconstruction: MIRAGE's settings with a few steps and candidates and a 256 px
 * enhancement, so SwiftShader finishes in minutes. Only what differs is sent: the worker's
 * withDefaults fills in the rest of each stage from MIRAGE_DEFAULTS field by field, which the
 * request's shallow Partial type cannot say (hence the cast).
 */
export function quickReconSettings(o: { candidates: number; seed: number; priorSteps: number; decoderSteps: number; captionMaxTokens: number }): Partial<GenerateSettings> {
  return {
    candidates: o.candidates,
    seed: o.seed,
    prior: { steps: o.priorSteps },
    decoder: { steps: o.decoderSteps },
    enhance: { size: 256 },
    captionMaxTokens: o.captionMaxTokens,
  } as Partial<GenerateSettings>;
}

// The small simulated demo bundle the cortex specs open (600 voxels, subject 1 decoded, subject 3
// for tuning, the demo model pack for full reconstructions), built once under .cache/test-bundles/.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { buildDemo } from '../../../src/core/simulate/buildDemo.ts';

export const CORTEX_BUNDLE = '.cache/test-bundles/cortex-demo';

export async function ensureCortexBundle(): Promise<void> {
  // The demo model pack (modelpack/) is needed for the full reconstruction.
  if (existsSync(join(CORTEX_BUNDLE, 'modelpack', 'modelpack.json'))) return;
  await writeAtomically(CORTEX_BUNDLE, (sink) =>
    buildDemo(sink, {
      seed: 5,
      voxels: 600,
      trainImages: 120,
      galleryImages: 8,
      decodedSubjects: [1],
      tuningSubjects: [3],
      alphas: [300, 3000],
      ranks: { image: 16, text: 16, blurry: 16, retrieval: 16, prompt: 16 },
      command: 'cortex.spec.ts: buildDemo (small)',
    }),
  );
}

// `mirage reconstruct`'s Node side (src/node/reconstructFiles.ts, built on the front door's decode
// and reconstruct) on the small simulated bundle with its demo model pack: every file written,
// the JSON saying which batch normalised the decode and which (simulated) pack made the images.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeMiniReconBundle } from '../../../src/core/simulate/miniBundle.ts';
import { decodePng } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { reconstructToFiles } from '../../../src/node/reconstructFiles.ts';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mirage-reconfiles-'));
  await writeAtomically(join(dir, 'bundle'), (sink) => writeMiniReconBundle(sink, { packTrainImages: 60 }));
}, 240_000);

describe('reconstructToFiles', () => {
  it('writes the chosen PNG, its siblings and a JSON record of how they were made', async () => {
    const out = join(dir, 'out', 'subj1_imagery_4.png');
    const meta = (await reconstructToFiles({
      bundle: join(dir, 'bundle'),
      models: join(dir, 'bundle', 'modelpack'),
      subject: 1,
      stimulus: 4,
      condition: 'imagery',
      settings: { candidates: 2, seed: 3 },
      out,
      quiet: true,
    })) as { chosen: number; scores: number[]; decoding: string; modelPackProvenance: string; settings: { seed: number; candidates: number }; files: { candidates: string[] } };
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(
      ['subj1_imagery_4.candidate-0.png', 'subj1_imagery_4.candidate-1.png', 'subj1_imagery_4.enhanced.png', 'subj1_imagery_4.json', 'subj1_imagery_4.lowlevel.png', 'subj1_imagery_4.png'],
    );
    expect(meta.decoding).toBe('repeats averaged; MIRAGE normalisation over 18 stimuli × imagery, subject 1, repeats averaged (2 per stimulus)');
    expect(meta.modelPackProvenance).toBe('simulated');
    expect(meta.settings).toMatchObject({ seed: 3, candidates: 2 });
    // The chosen image is the best-scoring candidate, byte for byte.
    expect(meta.chosen).toBe(meta.scores.indexOf(Math.max(...meta.scores)));
    expect(readFileSync(out).equals(readFileSync(meta.files.candidates[meta.chosen]))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'out', 'subj1_imagery_4.json'), 'utf8'))).toEqual(meta);
    const png = decodePng(new Uint8Array(readFileSync(out)), out);
    expect(png.width).toBeGreaterThan(0);
  }, 240_000);

  it('refuses a stimulus the condition has no trials of, naming the manifest, and writes nothing', async () => {
    const out = join(dir, 'none', 'x.png');
    await expect(
      reconstructToFiles({ bundle: join(dir, 'bundle'), models: join(dir, 'bundle', 'modelpack'), subject: 1, stimulus: 99, condition: 'vision', out, quiet: true }),
    ).rejects.toThrow(/bundle\/manifest\.json: stimuli: no stimulus 99/);
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });
});

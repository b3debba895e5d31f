// The runnable example (examples/decode-demo.ts) executed as a user would run it, on a small
// simulated bundle whose decoding is known by construction: it must go through the package's
// public entries ("mirage-explorer", "mirage-explorer/node") and print the right identification.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { expectedImageryIdentification, S, writeKnownBundle } from '../api/knownBundle.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

let dir: string;
/** The true image features the bundle stores. */
let F: number[][];

beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'mirage-example-')), 'bundle');
  F = await writeAtomically(dir, (sink) => writeKnownBundle(sink));
}, 60_000);

describe('examples/decode-demo.ts', () => {
  it('opens the folder, decodes both conditions and prints two-way identification', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/decode-demo.ts', dir, '1'], { cwd: ROOT });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('example test bundle (SIMULATED data): subject 1');
    const pct = (condition: string) => {
      const m = new RegExp(`^${condition}: image head, two-way identification ([\\d.]+)% \\(${S} stimuli, chance 50%; backend (\\w+); normalised over ${S} stimuli × ${condition}, subject 1, repeats averaged \\(2 per stimulus\\)\\)$`).exec(lines.find((l) => l.startsWith(`${condition}:`)) ?? '');
      expect(m, `${condition} line in:\n${stdout}`).not.toBeNull();
      return Number(m![1]);
    };
    // Vision decodes every stimulus to its own features: each beats all the others.
    expect(pct('vision')).toBe(100);
    // Imagery decodes stimulus s to F[s+1]: the expected score, counted from the features alone.
    const expected = expectedImageryIdentification(F);
    expect(pct('imagery')).toBeCloseTo((100 * expected.reduce((a, b) => a + b, 0)) / S, 1);
    expect(pct('imagery')).toBeLessThan(100);
  }, 120_000);
});

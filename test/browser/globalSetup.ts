// Writes the bundles the browser specs open through the dev server: a tiny valid bundle and
// corrupt variants of it (under .cache/test-bundles/, which Vite serves from the project root).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomically } from '../../src/node/atomic.ts';
import { writeTinyBundle } from './helpers/tinyBundle.ts';

export const TEST_BUNDLES = '.cache/test-bundles';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Hash of the code that writes the bundles: they are rewritten only when it changes. */
async function writerStamp(): Promise<string> {
  const h = createHash('sha256');
  for (const f of ['globalSetup.ts', 'helpers/tinyBundle.ts']) h.update(await readFile(join(HERE, f)));
  return h.digest('hex');
}

export default async function globalSetup(): Promise<void> {
  // Rewriting bundles a running page (another test run) still reads would break it: skip when current.
  const stampFile = join(TEST_BUNDLES, 'STAMP');
  const stamp = await writerStamp();
  if ((await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return;
  const tiny = join(TEST_BUNDLES, 'tiny');
  await writeAtomically(tiny, (sink) => writeTinyBundle(sink));

  // Bad manifest: a required field of a stimulus has the wrong type.
  const bad = join(TEST_BUNDLES, 'bad-manifest');
  await rm(bad, { recursive: true, force: true });
  await mkdir(bad, { recursive: true });
  const manifest = JSON.parse(await readFile(join(tiny, 'manifest.json'), 'utf8'));
  manifest.stimuli[3].set = 'abstract';
  await writeFile(join(bad, 'manifest.json'), JSON.stringify(manifest));

  // Corrupt shard: the betas shard is cut short (size differs from the manifest).
  const cut = join(TEST_BUNDLES, 'truncated-shard');
  await rm(cut, { recursive: true, force: true });
  await writeAtomically(cut, (sink) => writeTinyBundle(sink));
  const betas = await readFile(join(cut, 'subj01/betas.bin'));
  await writeFile(join(cut, 'subj01/betas.bin'), betas.subarray(0, betas.length - 1000));

  // Not JSON at all.
  const garbage = join(TEST_BUNDLES, 'not-json');
  await rm(garbage, { recursive: true, force: true });
  await mkdir(garbage, { recursive: true });
  await writeFile(join(garbage, 'manifest.json'), '{"format": "mirage-bundle", oops');
  await writeFile(stampFile, stamp);
}

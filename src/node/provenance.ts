// Provenance of what the CLI writes from real inputs: every input file listed with its size and
// SHA-256 (streamed, so a 40 GB HDF5 file is hashed without being held in memory).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Provenance } from '../core/bundle/manifest.ts';
import { assertRegularFile } from './files.ts';

/** Written into every manifest the CLI produces (provenance.generator). */
export const GENERATOR = { name: 'mirage-explorer', version: '0.1.0' };

export async function sha256File(path: string): Promise<string> {
  await assertRegularFile(path); // a FIFO or device would stream forever
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** One provenance entry per distinct path: size and SHA-256 of the file as it is now. */
export async function provenanceSources(paths: string[]): Promise<Provenance['sources']> {
  const out: Provenance['sources'] = [];
  for (const p of [...new Set(paths)]) out.push({ path: p, bytes: (await stat(p)).size, sha256: await sha256File(p) });
  return out;
}

/** Provenance of a bundle imported from real data by `command` (sources are added by runImport). */
export function baseProvenance(command: string, citation: string): Provenance {
  return { kind: 'real', command, createdAt: new Date().toISOString(), generator: GENERATOR, sources: [], citation };
}

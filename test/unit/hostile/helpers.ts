// Shared by the hostile-corpus tests (test/fixtures/gen/hostile.py writes test/fixtures/hostile/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesSource, type ByteSource } from '../../../src/core/formats/byteSource.ts';

export const HOSTILE = join(import.meta.dirname, '..', '..', 'fixtures', 'hostile');

/** A corpus file as bytes in memory, named by its corpus path (e.g. "nifti/ok.nii") in errors. */
export function hostile(name: string): ByteSource {
  return bytesSource(new Uint8Array(readFileSync(join(HOSTILE, name))), name);
}

export function hostilePath(name: string): string {
  return join(HOSTILE, name);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- expected values are free-form JSON
export function hostileJson<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(HOSTILE, name), 'utf8')) as T;
}

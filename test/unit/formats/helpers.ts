import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesSource, type ByteSource } from '../../../src/core/formats/byteSource.ts';

export const FIX = join(import.meta.dirname, '..', '..', 'fixtures', 'formats');

export function fixture(...parts: string[]): ByteSource {
  const path = join(FIX, ...parts);
  return bytesSource(new Uint8Array(readFileSync(path)), path);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- expected values are free-form JSON
export function fixtureJson<T = any>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(FIX, ...parts), 'utf8')) as T;
}

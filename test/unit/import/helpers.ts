import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter, type ShardSink } from '../../../src/core/bundle/writer.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import type { FileTree } from '../../../src/core/importers/common.ts';
import { fsTree } from '../../../src/node/files.ts';

export const FIX = join(import.meta.dirname, '..', '..', 'fixtures', 'formats');
export const NSD = join(FIX, 'nsd');

export function memoryWriter(): { writer: BundleWriter; files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const sink: ShardSink = { async write(path, bytes) { files.set(path, bytes.slice()); } };
  return { writer: new BundleWriter(sink), files };
}

/** The fixture NSD tree with some files replaced (by fixture files) or removed (null). */
export function overlay(base: FileTree, replace: Record<string, string | null>): FileTree {
  return {
    label: base.label,
    async open(path) {
      if (path in replace) {
        const f = replace[path];
        return f === null ? null : bytesSource(new Uint8Array(readFileSync(f)), `${base.label}/${path}`);
      }
      return base.open(path);
    },
    list: (d) => base.list(d),
  };
}

export function nsdTree(): FileTree {
  return fsTree(NSD);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mirage-import-'));
}

export const json = (p: string) => JSON.parse(readFileSync(join(FIX, p), 'utf8'));

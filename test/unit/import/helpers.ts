import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest, Provenance } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter, type ShardSink } from '../../../src/core/bundle/writer.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import type { ExistingBundle, FileTree } from '../../../src/core/importers/common.ts';
import { importNsdImagery } from '../../../src/core/importers/nsdImagery.ts';
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

/** Provenance of a test import, as `mirage import` would record it for `command`. */
export function testProvenance(command: string): Provenance {
  return { kind: 'real', command, createdAt: '2026-01-01T00:00:00Z', generator: { name: 't', version: '0' }, sources: [] };
}

/**
 * Subject 1 of the fixture NSD tree imported into memory: the bundle that the later importers
 * (betas, weights, recons) add to. `edit` may change the manifest before it is handed out.
 */
export async function nsdBaseBundle(command: string, edit?: (manifest: Manifest) => void): Promise<ExistingBundle> {
  const { writer, files } = memoryWriter();
  const { body } = await importNsdImagery({ tree: nsdTree(), subject: 1, writer, provenance: testProvenance(command) });
  const manifest = await writer.finish(body);
  edit?.(manifest);
  return { manifest, readShard: async (p) => files.get(p)! };
}

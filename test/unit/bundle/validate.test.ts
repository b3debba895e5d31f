// validateBundle collects every problem; `mirage validate` prints them one per line and exits 1.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { FileListShardSource } from '../../../src/core/bundle/fileSource.ts';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { validateBundle } from '../../../src/core/bundle/validate.ts';
import { editManifest, flipByte, writeTinyBundle } from './tinyBundle.ts';
import { removeTinyBundles } from './tinyBundle.ts';
import { readFileSync, readdirSync, statSync } from 'node:fs';

let dir: string;
afterAll(removeTinyBundles);
beforeEach(async () => {
  ({ dir } = await writeTinyBundle());
});

describe('validateBundle', () => {
  it('passes a bundle straight from BundleWriter', async () => {
    const r = await validateBundle(new FsShardSource(dir));
    expect(r.errors.map((e) => e.message)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.manifest?.name).toBe('tiny test bundle');
    expect(r.warnings.some((w) => /simulated/.test(w))).toBe(true);
  });

  it('collects all errors at once: corrupt shard, wrong size, bad fields', async () => {
    flipByte(join(dir, 'subj01/heads/image.bin'), 0);
    editManifest(dir, (m) => {
      m.trials[0].subject = 3;
      m.features[0].values.shard = 'gone.bin';
      m.shards.find((s: { path: string }) => s.path === 'features.bin').bytes += 1;
    });
    const r = await validateBundle(new FsShardSource(dir));
    expect(r.ok).toBe(false);
    const lines = r.errors.map((e) => e.message);
    expect(lines).toContain('manifest.json: trials[0].subject: unknown subject 3 (expected one of 1)');
    expect(lines).toContain(
      'manifest.json: features[0].values.shard: unknown shard "gone.bin" (expected a path listed in shards[])',
    );
    expect(lines.some((l) => l.startsWith('features.bin: bytes: wrong size'))).toBe(true);
    expect(lines.some((l) => l.startsWith('subj01/heads/image.bin: sha256: checksum mismatch'))).toBe(true);
    expect(r.errors).toHaveLength(4);
  });

  it('reports every schema error with its field path', async () => {
    editManifest(dir, (m) => {
      delete m.name;
      m.imageSize = 'big';
      m.trials[1].run = 'vis1';
    });
    const r = await validateBundle(new FsShardSource(dir));
    expect(r.errors.map((e) => e.field).sort()).toEqual(['imageSize', 'name', 'trials[1].run']);
    expect(r.errors.find((e) => e.field === 'trials[1].run')!.message).toBe(
      'manifest.json: trials[1].run: got string "vis1" (expected a run label like visA or imgB_2)',
    );
  });

  it('checks ROI voxel indices against voxelCount', async () => {
    editManifest(dir, (m) => {
      m.subjects[0].voxelCount = 11;
      m.subjects[0].heads = [];
      delete m.subjects[0].voxelToVertex;
    });
    const r = await validateBundle(new FsShardSource(dir));
    expect(r.errors.map((e) => e.message)).toEqual([
      'manifest.json: subjects[0].rois[0].voxels: voxel index 11 at position 2 (expected indices in [0, 11) (voxelCount))',
    ]);
  });

  it('checks surface faces and the voxel -> vertex map against the vertex count', async () => {
    editManifest(dir, (m) => (m.subjects[0].surfaces[0].vertexCount = 3));
    editManifest(dir, (m) => (m.subjects[0].surfaces[0].shapes.folded.shape = [3, 3]));
    const r = await validateBundle(new FsShardSource(dir));
    expect(r.errors.map((e) => e.message)).toEqual([
      "manifest.json: subjects[0].voxelToVertex: voxel 3 maps to (hemi 0, vertex 3) (expected hemi 0 (lh) or 1 (rh) and a vertex below that surface's vertexCount (3), or vertex -1)",
      'manifest.json: subjects[0].surfaces[0].faces: face vertex index 3 (face 1) (expected indices in [0, 3))',
    ]);
    const b = await Bundle.open(new FsShardSource(dir));
    await expect(b.surfaceFaces(1, 'lh')).rejects.toThrow(/surfaces\[0\]\.faces: face vertex index 3/);
    await expect(b.voxelToVertex(1)).rejects.toThrow(/voxelToVertex: voxel 3 maps to/);
  });

  it("'sizes' mode checks sizes without hashing", async () => {
    flipByte(join(dir, 'subj01/betas.bin'), 0);
    expect((await validateBundle(new FsShardSource(dir), { verify: 'sizes' })).ok).toBe(true);
    expect((await validateBundle(new FsShardSource(dir))).ok).toBe(false);
  });
});

describe('FileListShardSource', () => {
  const files = (prefix: string) => {
    const out: File[] = [];
    const walk = (d: string, rel: string) => {
      for (const name of readdirSync(d)) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p, `${rel}${name}/`);
        else {
          const f = new File([readFileSync(p)], name);
          Object.defineProperty(f, 'webkitRelativePath', { value: `${prefix}${rel}${name}` });
          out.push(f);
        }
      }
    };
    walk(dir, '');
    return out;
  };

  it('opens a picked folder (paths relative to the folder holding manifest.json)', async () => {
    const src = new FileListShardSource(files('downloads/my-bundle/'));
    expect(src.label).toBe('picked folder downloads/my-bundle');
    const b = await Bundle.open(src);
    expect(Array.from(await b.roiVoxels(1, 'V1'))).toEqual([0, 3, 11]);
    const part = await src.read('misc/tensors.bin', { offset: 2, length: 3 });
    expect(Array.from(part)).toEqual(Array.from(readFileSync(join(dir, 'misc/tensors.bin')).subarray(2, 5)));
  });

  it('opens a path -> Blob map and names a missing file', async () => {
    const map = new Map<string, Blob>(files('').map((f) => [f.webkitRelativePath, f]));
    map.delete('subj01/rois.bin');
    const e = await Bundle.open(new FileListShardSource(map)).catch((x) => x);
    expect(e.message).toMatch(/^subj01\/rois\.bin: not among the picked files/);
  });
});

describe('mirage validate', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(import.meta.dirname, '../../../bin/mirage.js'), 'validate', '-q', ...args], {
      encoding: 'utf8',
    });

  it('exits 0 with a summary on a valid bundle and 1 with one line per error on a corrupt one', () => {
    const ok = cli([dir]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/tiny test bundle: mirage-bundle v1, SIMULATED data/);
    expect(ok.stdout).toMatch(/valid \(every shard sha256 verified\)/);

    flipByte(join(dir, 'subj01/betas.bin'), 3);
    editManifest(dir, (m) => (m.trials[1].betas.offset = 999_999));
    const bad = cli([dir]);
    expect(bad.status).toBe(1);
    const lines = bad.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^manifest\.json: trials\[1\]\.betas\.offset: betas at offset 999999 .* \(expected offset \+ 24 bytes/,
    );
    expect(lines[1]).toMatch(/^subj01\/betas\.bin: sha256: checksum mismatch/);
    expect(lines[2]).toBe(`${dir}: INVALID, 2 errors`);

    const json = cli([join(dir, 'manifest.json'), '--json']);
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.errors.map((e: { file: string; field: string }) => `${e.file} ${e.field}`)).toEqual([
      'manifest.json trials[1].betas.offset',
      'subj01/betas.bin sha256',
    ]);
  });
});

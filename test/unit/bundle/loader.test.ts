// Bundle.open + tensor/trialBetas/roiVoxels over a bundle written by BundleWriter into a temp folder,
// and every way a bundle can be wrong: corrupt shard, wrong size, bad manifest fields.
import { appendFileSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { BundleError } from '../../../src/core/base/errors.ts';
import { Bundle, type LoadProgress } from '../../../src/core/bundle/loader.ts';
import type { TensorRef } from '../../../src/core/bundle/manifest.ts';
import { parseManifest } from '../../../src/core/bundle/validate.ts';
import { fromHalf, toHalf } from '../../../src/core/tensor/float16.ts';
import { editManifest, flipByte, OUT, RANK, V, values, writeTinyBundle } from './tinyBundle.ts';
import { removeTinyBundles } from './tinyBundle.ts';

let dir: string;
afterAll(removeTinyBundles);
beforeEach(async () => {
  ({ dir } = await writeTinyBundle());
});

const open = (verify: 'full' | 'sizes' = 'full') => Bundle.open(new FsShardSource(dir), { verify });
const refs = (b: Bundle) => b.manifest.extensions!.test as Record<string, TensorRef>;

async function openError(verify: 'full' | 'sizes' = 'full'): Promise<BundleError> {
  try {
    await open(verify);
  } catch (e) {
    expect(e).toBeInstanceOf(BundleError);
    return e as BundleError;
  }
  throw new Error('Bundle.open accepted a bad bundle');
}

describe('Bundle round trip', () => {
  it('reads back every dtype exactly', async () => {
    const b = await open();
    const r = refs(b);
    const f32 = await b.tensor(r.f32);
    expect(f32).toBeInstanceOf(Float32Array);
    expect(Array.from(f32)).toEqual(Array.from(values.f32));
    const f16 = await b.tensor(r.f16);
    expect(f16).toBeInstanceOf(Float32Array);
    expect(Array.from(f16)).toEqual(values.f16.map((x) => fromHalf(toHalf(x))));
    expect(Object.is(f16[9], -0)).toBe(true);
    const raw = await b.tensor(r.f16, { raw: true });
    expect(raw).toBeInstanceOf(Uint16Array);
    expect(Array.from(raw)).toEqual(values.f16.map(toHalf));
    expect(await b.tensor(r.u8)).toEqual(values.u8);
    expect(await b.tensor(r.i32)).toEqual(values.i32);
    expect(await b.tensor(r.u32)).toEqual(values.u32);
  });

  it('reads trial betas, ROIs and heads; results are copies', async () => {
    const b = await open();
    expect(b.manifest.trials).toHaveLength(4);
    for (let t = 0; t < 4; t++) {
      const betas = await b.trialBetas(t);
      expect(Array.from(betas)).toEqual(Array.from({ length: V }, (_, v) => values.beta(t, v)));
    }
    const stacked = await b.trialsBetas([1, 3]);
    expect(stacked.length).toBe(2 * V);
    expect(stacked[V]).toBe(values.beta(3, 0));
    expect(Array.from(await b.roiVoxels(1, 'V1'))).toEqual([0, 3, 11]);
    expect(Array.from(await b.surfaceFaces(1, 'lh'))).toEqual([0, 1, 2, 0, 2, 3]);
    const v2v = (await b.voxelToVertex(1))!;
    expect(Array.from(v2v.subarray(0, 6))).toEqual([0, 0, 0, 1, 0, 2]);
    expect(Array.from(v2v.subarray(2 * V - 2))).toEqual([-1, -1]);
    const head = b.subject(1).heads[0];
    expect((await b.tensor(head.A)).length).toBe(V * RANK);
    expect((await b.tensor(head.B)).length).toBe(RANK * OUT[0] * OUT[1]);
    const x = await b.tensor(refs(b).f32);
    x[0] = 99;
    expect((await b.tensor(refs(b).f32))[0]).toBe(values.f32[0]);
    expect(() => b.subject(9)).toThrow(/manifest\.json: subjects: no subject 9 \(expected one of 1\)/);
    await expect(b.trialBetas(4)).rejects.toThrow(/trials: no trial 4/);
  });

  it('reports byte progress at open, monotonic and ending at the total', async () => {
    const events: LoadProgress[] = [];
    const b = await Bundle.open(new FsShardSource(dir), { onProgress: (p) => events.push(p) });
    const total = b.manifest.shards.reduce((a, s) => a + s.bytes, 0);
    const shardEvents = events.filter((e) => e.file !== 'manifest.json' || e.totalBytes === total);
    for (let i = 1; i < shardEvents.length; i++)
      expect(shardEvents[i].loadedBytes).toBeGreaterThanOrEqual(shardEvents[i - 1].loadedBytes);
    expect(shardEvents.at(-1)).toMatchObject({ loadedBytes: total, totalBytes: total });
  });

  it('rejects an aborted open', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(Bundle.open(new FsShardSource(dir), { signal: ac.signal })).rejects.toThrow(/cancelled/);
  });
});

describe('corrupt shards', () => {
  it('a flipped byte fails the checksum at open, naming the shard', async () => {
    flipByte(join(dir, 'subj01/betas.bin'), 5);
    const e = await openError('full');
    expect(e.file).toBe('subj01/betas.bin');
    expect(e.field).toBe('sha256');
    expect(e.message).toMatch(
      /^subj01\/betas\.bin: sha256: checksum mismatch.*\(expected [0-9a-f]{64} \(manifest\.json shards\[\d\]\.sha256\)\)$/,
    );
  });

  it("with verify 'sizes' the corrupt shard is caught on first read and never used", async () => {
    flipByte(join(dir, 'subj01/betas.bin'), 5);
    const b = await open('sizes');
    // Other shards are fine.
    expect(Array.from(await b.tensor(refs(b).i32))).toEqual(Array.from(values.i32));
    await expect(b.trialBetas(0)).rejects.toThrow(/subj01\/betas\.bin: sha256: checksum mismatch/);
    await expect(b.trialBetas(1)).rejects.toThrow(/checksum mismatch/); // stays failed
  });

  it('a wrong size fails at open (full and sizes), naming the shard', async () => {
    appendFileSync(join(dir, 'misc/tensors.bin'), Buffer.from([1, 2, 3]));
    const size = readFileSync(join(dir, 'misc/tensors.bin')).length;
    for (const verify of ['full', 'sizes'] as const) {
      const e = await openError(verify);
      expect(e.message).toContain(`misc/tensors.bin: bytes: wrong size: ${size} bytes (expected ${size - 3} bytes`);
    }
  });

  it('a truncated or missing shard names the file', async () => {
    truncateSync(join(dir, 'features.bin'), 0);
    expect((await openError()).message).toMatch(/^features\.bin: bytes: wrong size: 0 bytes/);
    rmSync(join(dir, 'features.bin'));
    expect((await openError()).message).toMatch(/^features\.bin: file not found in /);
  });
});

describe('bad manifests', () => {
  it('missing field', async () => {
    editManifest(dir, (m) => delete m.subjects[0].voxelCount);
    const e = await openError();
    expect(e.file).toBe('manifest.json');
    expect(e.field).toBe('subjects[0].voxelCount');
    expect(e.message).toBe('manifest.json: subjects[0].voxelCount: missing (expected number)');
  });

  it('wrong type', async () => {
    editManifest(dir, (m) => (m.trials[2].repeat = 'two'));
    const e = await openError();
    expect(e.message).toBe('manifest.json: trials[2].repeat: got string "two" (expected number)');
  });

  it('offset out of bounds of its shard', async () => {
    editManifest(dir, (m) => (m.subjects[0].heads[0].B.offset += 1000));
    const e = await openError();
    expect(e.field).toBe('subjects[0].heads[0].B.offset');
    expect(e.message).toMatch(/past the end of shard subj01\/heads\/image\.bin \(expected offset \+ 24 bytes <= \d+/);
  });

  it('trial betas out of bounds', async () => {
    editManifest(dir, (m) => (m.trials[3].betas.offset = 10_000));
    expect((await openError()).field).toBe('trials[3].betas.offset');
  });

  it('unknown shard', async () => {
    editManifest(dir, (m) => (m.stimuli[0].image.shard = 'stimuli/nope.bin'));
    const e = await openError();
    expect(e.message).toBe(
      'manifest.json: stimuli[0].image.shard: unknown shard "stimuli/nope.bin" (expected a path listed in shards[])',
    );
  });

  it('head shapes inconsistent with voxelCount / rank / outputShape', async () => {
    editManifest(dir, (m) => {
      m.subjects[0].voxelCount = 11;
      m.subjects[0].heads[0].outputShape = [7];
    });
    const e = await openError();
    expect(e.message).toContain(
      'manifest.json: subjects[0].heads[0].A.shape: got [12, 2] (expected [11, 2] (voxelCount, rank))',
    );
    expect(e.message).toContain('subjects[0].heads[0].B.shape: got [2, 6] (expected [2, 7]');
    expect(e.message).toContain('subjects[0].heads[0].intercept.shape');
  });

  it('ROI voxel index >= voxelCount is caught when the ROI is loaded', async () => {
    editManifest(dir, (m) => (m.subjects[0].voxelCount = 11)); // index 11 now out of range
    editManifest(dir, (m) => {
      // keep the head and voxel -> vertex shape checks out of the way
      m.subjects[0].heads = [];
      delete m.subjects[0].voxelToVertex;
    });
    const b = await open();
    await expect(b.roiVoxels(1, 'V1')).rejects.toThrow(
      'manifest.json: subjects[0].rois[0].voxels: voxel index 11 at position 2 (expected indices in [0, 11) (voxelCount))',
    );
  });

  it('parseManifest names every bad field; invalid JSON names the file', async () => {
    expect(() => parseManifest({ format: 'mirage-bundle' })).toThrow(/manifest\.json: version: missing/);
    editManifest(dir, () => {});
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'manifest.json'), '{"format": ');
    expect((await openError()).message).toMatch(/^manifest\.json: not valid JSON/);
  });
});

describe('memory and concurrency', () => {
  it('keeps shards within the memory budget and range-reads the rest after verifying them', async () => {
    const reads: { path: string; offset?: number }[] = [];
    const fs = new FsShardSource(dir);
    const src = {
      label: 'spy',
      read: (p: string, o?: { offset?: number }) => (reads.push({ path: p, offset: o?.offset }), fs.read(p, o)),
    };
    const b = await Bundle.open(src, { memoryBudgetBytes: 0 });
    reads.length = 0;
    expect(Array.from(await b.roiVoxels(1, 'V1'))).toEqual([0, 3, 11]);
    expect(reads).toEqual([{ path: 'subj01/rois.bin', offset: 0 }]); // a ranged read, no re-hash
  });

  it("one caller's abort does not fail another caller waiting on the same shard", async () => {
    const b = await open('sizes');
    const ac = new AbortController();
    const first = b.trialBetas(0, { signal: ac.signal });
    const second = b.trialBetas(1);
    ac.abort();
    await expect(first).rejects.toThrow(/cancelled/);
    expect((await second).length).toBe(V);
  });
});

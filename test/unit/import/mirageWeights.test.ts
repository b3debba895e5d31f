
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../../src/node/files.ts';
import { discoverHeads } from '../../../src/node/importRun.ts';
import { DisallowedPickleError } from '../../../src/core/formats/errors.ts';
import { dictGet, NdArray, ndarrayToFloat64, unpickle } from '../../../src/core/formats/pickle.ts';
import type { ExistingBundle } from '../../../src/core/importers/common.ts';
import { importMirageWeights, type HeadCache } from '../../../src/core/importers/mirageWeights.ts';
import { decodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { FIX, memoryWriter, nsdBaseBundle } from './helpers.ts';

const W = join(FIX, 'weights');

const baseBundle = (): Promise<ExistingBundle> => nsdBaseBundle('mirage import nsd-imagery');

describe('import mirage-weights', () => {
  it('compresses each ridge pickle to float16 A·B with a fidelity figure and target mean/std', async () => {
    const existing = await baseBundle();
    const { writer, files } = memoryWriter();
    const heads = await discoverHeads(join(W, 'subj01'), []);
    expect(heads.map((h) => h.head)).toEqual(['image', 'text']);
    const { body, warnings } = await importMirageWeights({
      existing,
      writer,
      subject: 1,
      rank: 3,
      heads: await Promise.all(heads.map(async (h) => ({ head: h.head, pickle: await fileSource(h.pickle), targetMean: await fileSource(h.mean!), targetStd: await fileSource(h.std!) }))),
      command: 'mirage import mirage-weights',
    });
    const m = await writer.finish(body);
    const s = m.subjects[0];
    expect(s.heads.map((h) => h.name)).toEqual(['image', 'text']);
    const image = s.heads[0];
    expect(image.A.shape).toEqual([24, 3]);
    expect(image.B.shape).toEqual([3, 12]);
    expect(image.A.dtype).toBe('float16');
    expect(image.fidelity.trials).toBe(64);
    expect(image.fidelity.r2).toBeGreaterThan(0.999);
    expect(image.fidelity.description).toMatch(/trials of this bundle \(36 imagery\)/);
    expect(m.provenance.command).toBe('mirage import nsd-imagery && mirage import mirage-weights');
    // old shards carried over unchanged, trials still point at them
    expect(files.get(m.trials[0].betas.shard)).toEqual(await existing.readShard(m.trials[0].betas.shard));
    const shard = files.get(image.A.shard)!;
    const A = decodeFloat16(new Uint16Array(shard.buffer.slice(shard.byteOffset + image.A.offset, shard.byteOffset + image.A.offset + 2 * 72)));
    const B = decodeFloat16(new Uint16Array(shard.buffer.slice(shard.byteOffset + image.B.offset, shard.byteOffset + image.B.offset + 2 * 36)));
    const mean = new Float32Array(shard.buffer.slice(shard.byteOffset + image.targetMean!.offset, shard.byteOffset + image.targetMean!.offset + 48));
    expect(Array.from(mean)).toEqual(Array.from({ length: 12 }, (_, i) => Math.fround(i / 11)));
    // A·B reproduces coefᵀ of the pickle (rank-3 + 1e-6 noise), up to float16 rounding
    const d = await unpickle(await fileSource(join(W, 'subj01', 'image_ridge.pkl')));
    const coef = ndarrayToFloat64(dictGet(d, 'coef', 'image') as NdArray);
    let err = 0, tot = 0;
    for (let o = 0; o < 12; o++)
      for (let v = 0; v < 24; v++) {
        let ab = 0;
        for (let c = 0; c < 3; c++) ab += A[v * 3 + c] * B[c * 12 + o];
        err += (ab - coef[o * 24 + v]) ** 2;
        tot += coef[o * 24 + v] ** 2;
      }
    expect(err / tot).toBeLessThan(1e-4);
    expect(warnings.some((w) => /12 outputs, not MIRAGE's \[768\]/.test(w))).toBe(true);
  });

  it("handles a Fortran-ordered coef (sklearn's coef_) with the same result as the C-ordered one", async () => {
    const products = async (dir: string) => {
      const { writer, files } = memoryWriter();
      const { body } = await importMirageWeights({ existing: await baseBundle(), writer, subject: 1, rank: 3, heads: [{ head: 'image', pickle: await fileSource(join(W, dir, 'image_ridge.pkl')) }], command: 'x' });
      const m = await writer.finish(body);
      const h = m.subjects[0].heads[0];
      const sh = files.get(h.A.shard)!;
      const A = decodeFloat16(new Uint16Array(sh.buffer.slice(sh.byteOffset + h.A.offset, sh.byteOffset + h.A.offset + 2 * 72)));
      const B = decodeFloat16(new Uint16Array(sh.buffer.slice(sh.byteOffset + h.B.offset, sh.byteOffset + h.B.offset + 2 * 36)));
      const AB = new Float64Array(24 * 12);
      for (let v = 0; v < 24; v++) for (let o = 0; o < 12; o++) for (let c = 0; c < 3; c++) AB[v * 12 + o] += A[v * 3 + c] * B[c * 12 + o];
      return { AB, fid: h.fidelity };
    };
    const c = await products('subj01');
    const f = await products('fortran');
    expect(f.fid.r2).toBeGreaterThan(0.999);
    expect(f.fid.trials).toBe(64);
    let err = 0, tot = 0;
    c.AB.forEach((x, i) => {
      err += (x - f.AB[i]) ** 2;
      tot += x * x;
    });
    expect(err / tot).toBeLessThan(1e-4);
  });

  it('refuses a head whose voxel count differs from the mask, naming the pickle', async () => {
    const existing = await baseBundle();
    const { writer } = memoryWriter();
    const pickle = await fileSource(join(W, 'bad_voxels', 'image_ridge.pkl'));
    await expect(importMirageWeights({ existing, writer, subject: 1, rank: 2, heads: [{ head: 'image', pickle }], command: 'x' })).rejects.toThrow(
      /bad_voxels\/image_ridge\.pkl: coef: coef has 25 voxels .* mask has 24/,
    );
  });

  it('refuses a pickle with a disallowed class', async () => {
    const existing = await baseBundle();
    const { writer } = memoryWriter();
    const pickle = await fileSource(join(FIX, 'pickle', 'bad_os_system.pkl'));
    await expect(importMirageWeights({ existing, writer, subject: 1, rank: 2, heads: [{ head: 'image', pickle }], command: 'x' })).rejects.toBeInstanceOf(DisallowedPickleError);
  });

  it('resumes from cached heads of an interrupted run with identical factors', async () => {
    const store = new Map<string, Uint8Array>();
    const cache: HeadCache = { get: async (k) => store.get(k) ?? null, put: async (k, b) => void store.set(k, b) };
    const run = async () => {
      const existing = await baseBundle();
      const { writer, files } = memoryWriter();
      const pickle = await fileSource(join(W, 'subj01', 'text_ridge.pkl'));
      const { body, warnings } = await importMirageWeights({ existing, writer, subject: 1, rank: 2, heads: [{ head: 'text', pickle }], command: 'x', cache });
      const m = await writer.finish(body);
      return { m, files, warnings };
    };
    const a = await run();
    expect(store.size).toBe(1);
    const b = await run();
    expect(b.warnings.some((w) => /reused the factors/.test(w))).toBe(true);
    const h = a.m.subjects[0].heads[0];
    expect(b.files.get(h.A.shard)).toEqual(a.files.get(h.A.shard));
    expect(b.m.subjects[0].heads[0].fidelity).toEqual(h.fidelity);
  });
});

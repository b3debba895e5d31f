import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { describe, expect, it } from 'vitest';
import { openHdf5Rows } from '../../../src/core/formats/hdf5.ts';
import type { ExistingBundle } from '../../../src/core/importers/common.ts';
import { importNsdBetas, type NsdCoreBetasExtension } from '../../../src/core/importers/nsdBetas.ts';
import { decodeFloat16, fromHalf, toHalf } from '../../../src/core/tensor/float16.ts';
import { FIX, json, memoryWriter, nsdBaseBundle } from './helpers.ts';

function baseBundle(voxels?: number): Promise<ExistingBundle> {
  return nsdBaseBundle('nsd', (manifest) => {
    if (!voxels) return;
    // a 7-voxel subject to match the small HDF5 fixture: drop what depends on the voxel count
    const s = manifest.subjects[0];
    s.voxelCount = voxels;
    delete s.voxelToVertex;
    s.rois = [];
    manifest.trials = [];
  });
}

describe('import nsd-betas (HDF5, MindEye2 layout)', () => {
  it('stores the chosen sessions as float16 blocks in extensions.nsdCoreBetas', async () => {
    await h5wasm.ready;
    const reader = await openHdf5Rows(h5wasm, join(FIX, 'hdf5', 'betas_small.hdf5'), 'betas');
    const { writer, files } = memoryWriter();
    const { body } = await importNsdBetas({ existing: await baseBundle(7), writer, reader, subject: 1, sessionRows: 4, sessions: [2, 4], command: 'c' });
    reader.close();
    const m = await writer.finish(body);
    const ext = m.extensions!.nsdCoreBetas as NsdCoreBetasExtension;
    expect(ext.sessions.map((s) => [s.session, s.firstRow, s.betas.shape[0]])).toEqual([[2, 4, 4], [4, 12, 1]]);
    const ref = ext.sessions[0].betas;
    const sh = files.get(ref.shard)!;
    const vals = decodeFloat16(new Uint16Array(sh.buffer.slice(sh.byteOffset + ref.offset, sh.byteOffset + ref.offset + 2 * 28)));
    const exp: number[] = json('hdf5/betas_small.json').betas.slice(28, 56);
    expect(Array.from(vals)).toEqual(exp.map((v) => fromHalf(toHalf(v))));
  });

  it('refuses a file whose voxel count differs from the subject mask, naming the file', async () => {
    await h5wasm.ready;
    const reader = await openHdf5Rows(h5wasm, join(FIX, 'hdf5', 'betas_small.hdf5'), 'betas');
    const { writer } = memoryWriter();
    await expect(importNsdBetas({ existing: await baseBundle(), writer, reader, subject: 1, command: 'c' })).rejects.toThrow(/betas_small\.hdf5: betas: 7 voxels per row but subject 1's mask has 24/);
    reader.close();
  });
});

import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { describe, expect, it } from 'vitest';
import { openHdf5Rows } from '../../../src/core/formats/hdf5.ts';
import { FIX, fixtureJson } from './helpers.ts';

describe('HDF5 row reader (h5wasm)', () => {
  it('reads row blocks of a gzip-chunked float32 dataset written by h5py', async () => {
    await h5wasm.ready;
    const exp = fixtureJson('hdf5', 'betas_small.json');
    const r = await openHdf5Rows(h5wasm, join(FIX, 'hdf5', 'betas_small.hdf5'), 'betas');
    expect(r.shape).toEqual([13, 7]);
    const rows = await r.readRows(3, 6); // crosses chunk boundaries (chunks of 4 rows)
    expect(Array.from(rows)).toEqual(exp.betas.slice(3 * 7, 9 * 7).map((v: number) => Math.fround(v)));
    await expect(r.readRows(10, 5)).rejects.toThrow(/betas_small\.hdf5: betas: rows 10\.\.15 out of range/);
    r.close();
  });

  it('names the file and the missing dataset', async () => {
    await h5wasm.ready;
    await expect(openHdf5Rows(h5wasm, join(FIX, 'hdf5', 'betas_small.hdf5'), 'nope')).rejects.toThrow(/betas_small\.hdf5: nope: no dataset "nope".*betas, plain/);
  });
});

// The hostile corpus through the importers (`mirage import ...` and the same code in the page):
// non-finite or out-of-range values are refused where they enter, naming the file, the tensor and
// the first bad element, instead of ending up as all-NaN heads or black images in a bundle that
// validates.
import h5wasm from 'h5wasm/node';
import { describe, expect, it } from 'vitest';
import type { Provenance } from '../../../src/core/bundle/manifest.ts';
import { openHdf5Rows } from '../../../src/core/formats/hdf5.ts';
import type { ExistingBundle } from '../../../src/core/importers/common.ts';
import { importMirageWeights, type HeadFiles } from '../../../src/core/importers/mirageWeights.ts';
import { importNsdBetas } from '../../../src/core/importers/nsdBetas.ts';
import { importNsdImagery, NSD_PATHS } from '../../../src/core/importers/nsdImagery.ts';
import { importRecons } from '../../../src/core/importers/recons.ts';
import { memoryWriter, nsdTree, overlay } from '../import/helpers.ts';
import { hostile, hostilePath } from './helpers.ts';

const prov: Provenance = { kind: 'real', command: 'nsd', createdAt: '2026-01-01T00:00:00Z', generator: { name: 't', version: '0' }, sources: [] };

let base: Promise<ExistingBundle> | undefined;
/** The formats fixture's NSD subject 1 (24 voxels), imported once. */
function baseBundle(): Promise<ExistingBundle> {
  base ??= (async () => {
    const { writer, files } = memoryWriter();
    const { body } = await importNsdImagery({ tree: nsdTree(), subject: 1, writer, provenance: prov });
    const manifest = await writer.finish(body);
    return { manifest, readShard: async (p: string) => files.get(p)! };
  })();
  return base;
}

async function withVoxels(n: number): Promise<ExistingBundle> {
  const b = await baseBundle();
  const manifest = structuredClone(b.manifest);
  const s = manifest.subjects[0];
  s.voxelCount = n;
  delete s.voxelToVertex;
  s.rois = [];
  manifest.trials = [];
  return { manifest, readShard: b.readShard };
}

describe('hostile MIRAGE weight pickles', () => {
  const run = async (pickle: string, extra: Partial<HeadFiles> = {}) => {
    const { writer } = memoryWriter();
    return importMirageWeights({ existing: await baseBundle(), writer, subject: 1, rank: 2, heads: [{ head: 'image', pickle: hostile(pickle), ...extra }], command: 'c' });
  };

  it('weights/image_ok.pkl is imported (the control case)', async () => {
    const { body } = await run('weights/image_ok.pkl', { targetMean: hostile('weights/image_target_std_ok.npy'), targetStd: hostile('weights/image_target_std_ok.npy') });
    const head = body.subjects[0].heads.find((h) => h.name === 'image')!;
    expect(head.B.shape).toEqual([2, 12]);
    expect(Number.isFinite(head.fidelity.r2)).toBe(true);
  });

  it.each([
    ['weights/image_nan_coef.pkl', /^weights\/image_nan_coef\.pkl: coef: non-finite value \(NaN\) at element \(5, 17\); refused/],
    ['weights/image_inf_coef.pkl', /^weights\/image_inf_coef\.pkl: coef: non-finite value \(Infinity\) at element \(11, 0\); refused/],
    ['weights/image_inf_intercept.pkl', /^weights\/image_inf_intercept\.pkl: intercept: non-finite value \(-Infinity\) at element \(3\); refused/],
    ['weights/image_nan_scalar_intercept.pkl', /^weights\/image_nan_scalar_intercept\.pkl: intercept: non-finite value \(NaN\) at element \[0\]; refused/],
  ])('%s is refused with the file, the tensor and the first index', async (name, message) => {
    await expect(run(name)).rejects.toThrow(message);
  });

  it('weights/image_target_mean_nan.npy is refused with its first index', async () => {
    await expect(
      run('weights/image_ok.pkl', { targetMean: hostile('weights/image_target_mean_nan.npy'), targetStd: hostile('weights/image_target_std_ok.npy') }),
    ).rejects.toThrow(/^weights\/image_target_mean_nan\.npy: target mean: non-finite value \(NaN\) at element \(9\); refused/);
  });
});

describe('hostile reconstruction tensors', () => {
  const run = async (pt: string) => {
    const { writer } = memoryWriter();
    return importRecons({ existing: await baseBundle(), writer, method: 'm', subject: 1, condition: 'imagery', input: { kind: 'pt', source: hostile(pt) }, source: 's', command: 'c' });
  };

  it('torch/recons_ok.pt is imported (the control case)', async () => {
    const { body } = await run('torch/recons_ok.pt');
    expect(body.reconstructions![0].images.shape.slice(0, 2)).toEqual([3, 2]);
  });

  it.each([
    ['torch/recons_nan.pt', /^torch\/recons_nan\.pt: reconstructions: non-finite pixel \(NaN\) at element \(1, 0, 2, 5, 6\); refused \(expected pixel values in \[0, 1\]\)/],
    ['torch/recons_1e30.pt', /^torch\/recons_1e30\.pt: reconstructions: pixel 1\.0000000150474662e\+30 at element \(2, 1, 0, 0, 3\) is out of range; refused/],
    ['torch/recons_inf_half.pt', /^torch\/recons_inf_half\.pt: reconstructions: non-finite pixel \(Infinity\) at element \(0, 0, 1, 7, 7\); refused/],
    ['torch/recons_0_255.pt', /^torch\/recons_0_255\.pt: reconstructions: pixel \d+(\.\d+)? at element \(0, 0, 0, 0, \d+\) is out of range; refused \(expected pixel values in \[0, 1\]\)/],
    ['torch/shape_exceeds_storage.pt', /^torch\/shape_exceeds_storage\.pt: tensor on storage 0: .* reaches element 9599 of a storage of 96/],
  ])('%s is refused naming the file, the tensor and the first bad pixel', async (name, message) => {
    await expect(run(name)).rejects.toThrow(message);
  });
});

describe('hostile HDF5 betas (import nsd-betas)', () => {
  it('hdf5/nan.hdf5 is refused at row 4, voxel 3', async () => {
    const reader = await openHdf5Rows(h5wasm, hostilePath('hdf5/nan.hdf5'), 'betas', 'hdf5/nan.hdf5');
    const { writer } = memoryWriter();
    try {
      await expect(importNsdBetas({ existing: await withVoxels(5), writer, reader, subject: 1, sessionRows: 6, command: 'c' })).rejects.toThrow(
        /^hdf5\/nan\.hdf5: betas: non-finite beta \(NaN\) at element \(4, 3\); refused \(expected finite betas\)/,
      );
    } finally {
      reader.close();
    }
  });

  it('hdf5/ok.hdf5 is imported (the control case)', async () => {
    const reader = await openHdf5Rows(h5wasm, hostilePath('hdf5/ok.hdf5'), 'betas', 'hdf5/ok.hdf5');
    const { writer } = memoryWriter();
    try {
      const { body } = await importNsdBetas({ existing: await withVoxels(5), writer, reader, subject: 1, sessionRows: 3, command: 'c' });
      expect((body.extensions!.nsdCoreBetas as { sessions: unknown[] }).sessions.length).toBe(2);
    } finally {
      reader.close();
    }
  });
});

describe('hostile surfaces (import nsd-imagery)', () => {
  it('surf/lh.nan.white in place of lh.white is refused at vertex 2, coordinate 1', async () => {
    const white = NSD_PATHS.surf('subj01', 'lh.white');
    const { writer } = memoryWriter();
    await expect(importNsdImagery({ tree: overlay(nsdTree(), { [white]: hostilePath('surf/lh.nan.white') }), subject: 1, writer, provenance: prov })).rejects.toThrow(
      /lh\.white: vertices: non-finite coordinate \(NaN\) at element \(2, 1\); refused/,
    );
  });
});

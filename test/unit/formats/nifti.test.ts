import { describe, expect, it } from 'vitest';
import { bytesSource, readAll } from '../../../src/core/formats/byteSource.ts';
import { maskIndices, openNifti, readNifti, selectVoxels, voxelCoords } from '../../../src/core/formats/nifti.ts';
import { fixture, fixtureJson } from './helpers.ts';

describe('NIfTI reader', () => {
  const exp = fixtureJson('nifti', 'int16_4d_slope.json');

  it('reads a gzipped int16 4-D NIfTI-1 volume by volume with slope/intercept, masked in numpy C order', async () => {
    const nv = await openNifti(fixture('nifti', 'int16_4d_slope.nii.gz'));
    expect(nv.header.version).toBe(1);
    expect(nv.header.shape).toEqual(exp.shape);
    expect(nv.header.slope).toBe(0.5);
    expect(nv.header.inter).toBe(1.25);
    expect(nv.header.affine).toEqual(exp.affine.map((v: number) => Math.fround(v)));
    const mask = await readNifti(fixture('nifti', 'mask.nii.gz'));
    const idx = maskIndices(mask.data, mask.header.shape);
    expect(idx.length).toBe(exp.maskCount);
    expect(Array.from(voxelCoords(idx, mask.header.shape))).toEqual(exp.maskIndicesXYZ.flat());
    let t = 0;
    for await (const vol of nv.volumes()) {
      expect(Array.from(selectVoxels(vol, idx, new Float64Array(idx.length)))).toEqual(exp.maskedByVolume[t]);
      // voxel (1, 2, 0): disk offset x + nx*y
      expect(vol[1 + 5 * 2]).toBe(exp.voxel_1_2_0[t]);
      t++;
    }
    expect(t).toBe(6);
  });

  it.each([
    ['float32_3d', 'float32_3d.nii', 2],
    ['float64_4d_n2', 'float64_4d_n2.nii.gz', 2],
    ['uint8_3d', 'uint8_3d.nii', 1],
    ['int32_3d', 'int32_3d.nii.gz', 1],
  ])('reads %s exactly (C-order comparison)', async (key, file, version) => {
    const e = fixtureJson('nifti', 'others.json')[key];
    const { header, data } = await readNifti(fixture('nifti', file));
    expect(header.version).toBe(version);
    expect(header.shape).toEqual(e.shape);
    // numpy C order over all axes vs disk Fortran order
    const shape: number[] = e.shape;
    const c: number[] = [];
    const idx = (coords: number[]) => coords.reduceRight((acc, v, k) => acc * shape[k] + v, 0);
    const walk = (prefix: number[]) => {
      if (prefix.length === shape.length) c.push(data[idx(prefix)]);
      else for (let i = 0; i < shape[prefix.length]; i++) walk([...prefix, i]);
    };
    walk([]);
    expect(c).toEqual(e.cOrder);
  });

  it('rejects a truncated .nii.gz, naming the file', async () => {
    const whole = await readAll(fixture('nifti', 'int16_4d_slope.nii.gz'));
    for (const cut of [Math.floor(whole.length * 0.6), whole.length - 6]) {
      const run = async () => {
        const nv = await openNifti(bytesSource(whole.subarray(0, cut), 'betas_cut.nii.gz'));
        for await (const v of nv.volumes()) void v;
      };
      await expect(run()).rejects.toThrow(/betas_cut\.nii\.gz.*(truncated|gzip)/);
    }
  });

  it('rejects an uncompressed file shorter than its header says', async () => {
    const whole = await readAll(fixture('nifti', 'float32_3d.nii'));
    await expect(openNifti(bytesSource(whole.subarray(0, whole.length - 10), 'short.nii'))).rejects.toThrow(/short\.nii: data: file is/);
  });

  it('rejects a file that is not NIfTI', async () => {
    await expect(openNifti(bytesSource(new Uint8Array(600), 'zero.nii'))).rejects.toThrow(/zero\.nii: sizeof_hdr/);
  });
});

describe('NIfTI masked streaming', () => {
  it('volumes(signal, select) yields exactly the masked values of each volume', async () => {
    const exp = fixtureJson('nifti', 'int16_4d_slope.json');
    const mask = await readNifti(fixture('nifti', 'mask.nii.gz'));
    const idx = maskIndices(mask.data, mask.header.shape);
    const nv = await openNifti(fixture('nifti', 'int16_4d_slope.nii.gz'));
    let t = 0;
    for await (const v of nv.volumes(undefined, idx)) expect(Array.from(v)).toEqual(exp.maskedByVolume[t++]);
    expect(t).toBe(6);
  });
});

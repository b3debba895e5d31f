// The hostile corpus against each reader of src/core/formats and src/core/tensor: every case either
// fails with an error naming the file and the field, or is read with the right values.
import h5wasm from 'h5wasm/node';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { FormatError } from '../../../src/core/formats/errors.ts';
import { openHdf5Rows } from '../../../src/core/formats/hdf5.ts';
import { readFsAnnot, readFsLabel, readFsSurface } from '../../../src/core/formats/freesurfer.ts';
import { readNifti } from '../../../src/core/formats/nifti.ts';
import { DisallowedPickleError } from '../../../src/core/formats/errors.ts';
import { unpickle } from '../../../src/core/formats/pickle.ts';
import { loadTorch, tensorRows, TorchTensor } from '../../../src/core/formats/torch.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { openHdf5File } from '../../../src/node/hdf5.ts';
import { hostile, hostileJson, hostilePath } from './helpers.ts';

const h5 = (name: string) => openHdf5Rows(h5wasm, hostilePath(name), 'betas', name);

describe('hostile HDF5 (h5wasm confined to the one file)', () => {
  it('hdf5/ok.hdf5 is read with the values h5py wrote', async () => {
    const r = await h5('hdf5/ok.hdf5');
    expect(r.shape).toEqual([6, 5]);
    expect(Array.from(await r.readRows(1, 4))).toEqual(hostileJson('hdf5/ok.json').betas.slice(5, 25).map(Math.fround));
    r.close();
  });

  it.each([
    ['hdf5/external_storage_passwd.hdf5', /^hdf5\/external_storage_passwd\.hdf5: betas: .*refers to \/etc\/passwd outside itself.*refused, nothing was read/],
    ['hdf5/external_storage_sibling.hdf5', /^hdf5\/external_storage_sibling\.hdf5: betas: .*refers to .*sibling\.raw outside itself/],
    ['hdf5/external_link.hdf5', /^hdf5\/external_link\.hdf5: betas: is an external link to ok\.hdf5:\/betas; refused/],
    ['hdf5/external_link_passwd.hdf5', /^hdf5\/external_link_passwd\.hdf5: betas: is an external link to \/etc\/passwd:\/x; refused/],
    ['hdf5/virtual.hdf5', /^hdf5\/virtual\.hdf5: betas: dataset is virtual, mapped from ok\.hdf5; refused/],
    ['hdf5/corrupt_chunk.hdf5', /^hdf5\/corrupt_chunk\.hdf5: betas: cannot read rows 2\.\.4: H5Z_pipeline\(\): filter returned failure/],
    ['hdf5/empty.hdf5', /^hdf5\/empty\.hdf5: cannot open as HDF5: H5F__super_read\(\): file signature not found/],
    ['hdf5/garbage.hdf5', /^hdf5\/garbage\.hdf5: cannot open as HDF5: H5F__super_read\(\): file signature not found/],
    ['hdf5/truncated.hdf5', /^hdf5\/truncated\.hdf5: cannot open as HDF5: H5F__super_read\(\): truncated file: eof = 700/],
    ['hdf5/strings.hdf5', /^hdf5\/strings\.hdf5: betas: dataset is not numeric/],
  ])('%s is refused naming the file and the dataset', async (name, message) => {
    await expect(
      (async () => {
        const r = await h5(name);
        // the corrupt chunk is the second one: row 0 reads, rows 2..4 must not come back as zeros
        try {
          await r.readRows(2, 2);
        } finally {
          r.close();
        }
      })(),
    ).rejects.toThrow(message);
  });

  it('hdf5/nan.hdf5 is read as is (NaN at (4, 3)); the importer refuses it (importers.test.ts)', async () => {
    const r = await h5('hdf5/nan.hdf5');
    const rows = await r.readRows(0, 6);
    expect(Number.isNaN(rows[4 * 5 + 3])).toBe(true);
    expect(rows.filter((v) => Number.isNaN(v)).length).toBe(1);
    r.close();
  });

  it("the CLI's worker-thread reader (src/node/hdf5.ts) reads and refuses the same way", async () => {
    const r = await openHdf5File(hostilePath('hdf5/ok.hdf5'), 'betas', 'hdf5/ok.hdf5');
    expect(r.shape).toEqual([6, 5]);
    expect(Array.from(await r.readRows(1, 4))).toEqual(hostileJson('hdf5/ok.json').betas.slice(5, 25).map(Math.fround));
    await expect(r.readRows(5, 2)).rejects.toThrow(/^hdf5\/ok\.hdf5: betas: rows 5\.\.7 out of range \(expected 0\.\.6\)$/);
    r.close();
    const refused = openHdf5File(hostilePath('hdf5/external_storage_passwd.hdf5'), 'betas', 'hdf5/external_storage_passwd.hdf5');
    await expect(refused).rejects.toThrow(FormatError);
    await expect(refused).rejects.toThrow(/^hdf5\/external_storage_passwd\.hdf5: betas: cannot read rows 0\.\.1: the file refers to \/etc\/passwd outside itself/);
  });

  it('a refused file leaves the library usable for the next one', async () => {
    await expect(h5('hdf5/external_storage_passwd.hdf5')).rejects.toThrow(FormatError);
    const r = await h5('hdf5/ok.hdf5');
    expect((await r.readRows(0, 1)).length).toBe(5);
    r.close();
  });
});

describe('hostile NIfTI', () => {
  it('nifti/ok.nii is read in disk order', async () => {
    const { header, data } = await readNifti(hostile('nifti/ok.nii'));
    expect(header.shape).toEqual([3, 4, 2]);
    expect(Array.from(data)).toEqual(hostileJson('nifti/ok.json').data.map(Math.fround));
  });

  it('nifti/slope_nan.nii: a NaN slope means no scaling, as in nibabel', async () => {
    const { data } = await readNifti(hostile('nifti/slope_nan.nii'));
    expect(Array.from(data)).toEqual(hostileJson('nifti/ok.json').data.map(Math.fround));
  });

  it.each([
    ['nifti/vox_offset_nan.nii', /^nifti\/vox_offset_nan\.nii: vox_offset: vox_offset is NaN/],
    ['nifti/vox_offset_inf.nii', /^nifti\/vox_offset_inf\.nii: vox_offset: vox_offset is Infinity/],
    ['nifti/vox_offset_negative.nii', /^nifti\/vox_offset_negative\.nii: vox_offset: vox_offset is -1000000000/],
    ['nifti/dims_overflow.nii', /^nifti\/dims_overflow\.nii: dim: dimensions \[32767,32767,32767\] give 35181150961663 voxels per volume/],
    ['nifti/dims_4d_overflow.nii', /^nifti\/dims_4d_overflow\.nii: dim: dimensions \[3,4,2,32767,32767,32767,32767\] describe more data than a file can hold \(expected dimensions whose product fits in 2\^53 bytes\)/],
    ['nifti/dims_negative.nii', /^nifti\/dims_negative\.nii: dim: dimension sizes \[3,-4,2\]/],
    ['nifti/dim0_zero.nii', /^nifti\/dim0_zero\.nii: dim\[0\]: dim\[0\] = 0/],
    ['nifti/datatype_bad.nii', /^nifti\/datatype_bad\.nii: datatype: unsupported datatype code 32/],
    ['nifti/bitpix_mismatch.nii', /^nifti\/bitpix_mismatch\.nii: bitpix: bitpix 16 does not match datatype float32/],
    ['nifti/magic_bad.nii', /^nifti\/magic_bad\.nii: magic: bad NIfTI-1 magic "xyz"/],
    ['nifti/sizeof_hdr_bad.nii', /^nifti\/sizeof_hdr_bad\.nii: sizeof_hdr: not a NIfTI file \(sizeof_hdr = 1234\)/],
    ['nifti/truncated.nii', /^nifti\/truncated\.nii: data: file is 392 bytes but the header describes 448/],
    ['nifti/truncated.nii.gz', /^nifti\/truncated\.nii\.gz: .*(truncated|corrupt)/],
    ['nifti/short_header.nii', /^nifti\/short_header\.nii: NIfTI header: file ends early/],
    ['nifti/gzip_garbage.nii.gz', /^nifti\/gzip_garbage\.nii\.gz: NIfTI header: corrupt or truncated gzip data/],
  ])('%s is refused naming the file and the header field', async (name, message) => {
    await expect(readNifti(hostile(name))).rejects.toThrow(message);
  });
});

describe('hostile .npy', () => {
  it.each([
    ['npy/shape_huge.npy', /^npy\/shape_huge\.npy: data: holds 160 bytes of data \(expected 39999899999900001 bytes|^npy\/shape_huge\.npy: (data|header\.shape): /],
    ['npy/truncated.npy', /^npy\/truncated\.npy: data: holds 144 bytes of data \(expected 160 bytes for shape \(8, 5\) of <f4\)/],
  ])('%s is refused naming the header field', (name, message) => {
    const bytes = new Uint8Array(readFileSync(hostilePath(name)));
    expect(() => readNpy(bytes, name)).toThrow(message);
    expect(() => readNpy(bytes, name)).toThrow(BundleError);
  });
});

describe('hostile .pt (torch.save)', () => {
  it.each([
    ['torch/shape_exceeds_storage.pt', /^torch\/shape_exceeds_storage\.pt: tensor on storage 0: shape \[200,1,3,4,4\] with stride \[48,48,16,4,1\] and offset 0 reaches element 9599 of a storage of 96/],
    ['torch/negative_stride.pt', /^torch\/negative_stride\.pt: tensor on storage 0: shape \[2,1,3,4,4\], stride \[48,48,16,-4,1\], offset 0 \(expected non-negative integer sizes/],
    ['torch/offset_past_end.pt', /^torch\/offset_past_end\.pt: tensor on storage 0: .* offset 1000 reaches element 1095 of a storage of 96/],
    ['torch/rank_mismatch.pt', /^torch\/rank_mismatch\.pt: tensor on storage 0: shape \[2,1,3,4,4\], stride \[48,16,4,1\].*one stride per dimension/],
    ['torch/not_a_zip.pt', /^torch\/not_a_zip\.pt: zip: not a zip archive/],
    ['torch/member_size_lie.pt', /^torch\/member_size_lie\.pt: .*data\/0: member .*data\/0 claims 1073741824 bytes from \d+ compressed/],
  ])('%s is refused naming the file and the tensor', async (name, message) => {
    await expect(
      (async () => {
        const { root } = await loadTorch(hostile(name));
        if (root instanceof TorchTensor) await tensorRows(root, 0, 1);
      })(),
    ).rejects.toThrow(message);
  });

  it('torch/broadcast_huge.pt: a stride-0 shape of 4.8e9 values is refused when read, not allocated', async () => {
    const { root } = await loadTorch(hostile('torch/broadcast_huge.pt'));
    expect(root).toBeInstanceOf(TorchTensor);
    await expect(tensorRows(root as unknown as TorchTensor, 0, 1)).rejects.toThrow(/^torch\/broadcast_huge\.pt:broadcast_huge\/data\/0: storage 0: tensor with shape \[100000,1000,3,4,4\] and stride \[0,0,16,4,1\] is not contiguous/);
  });

  it('torch/deflated_member_64mib.pt: only what the tensor uses of a 64 MiB deflated storage is inflated', async () => {
    const exp = hostileJson('torch/deflated_member_64mib.json');
    const before = process.memoryUsage().arrayBuffers;
    const { root } = await loadTorch(hostile('torch/deflated_member_64mib.pt'));
    const t = root as unknown as TorchTensor;
    expect(t.shape).toEqual(exp.shape);
    expect(t.storage.source.size).toBe(64 << 20);
    const row = await tensorRows(t, 0, 1);
    expect(Array.from(row.subarray(0, 8))).toEqual(exp.first.map(Math.fround));
    // the member would take 64 MiB inflated; what was read is 27 KB plus one inflate step
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
  });
});

describe('hostile pickles', () => {
  it('weights/image_os_system.pkl is refused when os.system is referenced, never run', async () => {
    await expect(unpickle(hostile('weights/image_os_system.pkl'))).rejects.toThrow(DisallowedPickleError);
    await expect(unpickle(hostile('weights/image_os_system.pkl'))).rejects.toThrow(/^weights\/image_os_system\.pkl: pickle global: pickle refers to posix\.system/);
  });

  it('weights/deep_lists.pkl: 100 000 nested lists are built without recursion', async () => {
    let v = await unpickle(hostile('weights/deep_lists.pkl'));
    let depth = 0;
    while (Array.isArray(v) && v.length) {
      v = v[0];
      depth++;
    }
    expect(depth).toBe(99999);
  });
});

describe('hostile FreeSurfer files', () => {
  it('surf/lh.ok.annot is read (the control case)', async () => {
    const a = await readFsAnnot(hostile('surf/lh.ok.annot'));
    expect(a.names).toEqual(['V1', 'V2']);
    expect(Array.from(a.labels)).toEqual([0, 1, 1, 0]);
  });

  it('surf/lh.huge_max.annot: a colortable max of 2^31-1 is read without looping to it', async () => {
    const a = await readFsAnnot(hostile('surf/lh.huge_max.annot'));
    expect(a.names).toEqual(['V1', 'V2']);
    expect(Array.from(a.labels)).toEqual([0, 1, 1, 0]);
  });

  it('surf/lh.huge_count.annot: a vertex count the file cannot hold is refused before allocating', async () => {
    await expect(readFsAnnot(hostile('surf/lh.huge_count.annot'))).rejects.toThrow(/^surf\/lh\.huge_count\.annot: vertex count: vertex count 2147483647 does not fit in \d+ bytes/);
  });

  it('surf/lh.huge_count.label: 10^12 announced vertices are refused before allocating', async () => {
    await expect(readFsLabel(hostile('surf/lh.huge_count.label'))).rejects.toThrow(/^surf\/lh\.huge_count\.label: count: line 2 announces 1000000000000 vertices but the file has 2 more lines/);
  });

  it('surf/lh.nan.white is read as is (the importer refuses it, importers.test.ts)', async () => {
    const s = await readFsSurface(hostile('surf/lh.nan.white'));
    expect(Number.isNaN(s.vertices[2 * 3 + 1])).toBe(true);
  });
});

// The hostile corpus against each reader of src/core/formats and src/core/tensor: every case either
// fails with an error naming the file and the field, or is read with the right values.
import h5wasm from 'h5wasm/node';
import type { ByteSource } from '../../../src/core/formats/byteSource.ts';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { FormatError } from '../../../src/core/formats/errors.ts';
import { openHdf5Rows } from '../../../src/core/formats/hdf5.ts';
import { readFsAnnot, readFsLabel, readFsSurface } from '../../../src/core/formats/freesurfer.ts';
import { readNifti } from '../../../src/core/formats/nifti.ts';
import { encodeSafetensors, MAX_HEADER_BYTES, openSafetensors, readSafetensorFloat32 } from '../../../src/core/formats/safetensors.ts';
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

// safetensors is an 8-byte length, a JSON header and bytes, so these cases are built here at test time
// (test/fixtures/gen/hostile.py only registers their names). Each is read through a source that
// records how far into the file the reader went: a refusal must come from the header alone, never
// after reading tensor data (or, for a hostile header length, after allocating for it).
interface Recorded extends ByteSource {
  /** End of the furthest byte range read so far. */
  reachedEnd: number;
}

function recorded(name: string, size: number, bytesAt: (offset: number, length: number) => Uint8Array): Recorded {
  const src: Recorded = {
    name,
    size,
    reachedEnd: 0,
    async read(offset, length) {
      src.reachedEnd = Math.max(src.reachedEnd, offset + length);
      return bytesAt(offset, length);
    },
  };
  return src;
}

/** A file from a header (object: JSON, string: raw text, bytes: raw) and data; `len` overrides the length field. */
function stFile(header: unknown, data: Uint8Array = new Uint8Array(16), len?: bigint): { bytes: Uint8Array; headerEnd: number } {
  const h = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, len ?? BigInt(h.byteLength), true);
  bytes.set(h, 8);
  bytes.set(data, 8 + h.byteLength);
  return { bytes, headerEnd: 8 + h.byteLength };
}

function inMemory(name: string, f: { bytes: Uint8Array }): Recorded {
  return recorded(name, f.bytes.byteLength, (o, n) => f.bytes.slice(o, Math.min(o + n, f.bytes.byteLength)));
}

const F32x4 = { dtype: 'F32', shape: [4], data_offsets: [0, 16] };

describe('hostile safetensors (built at test time)', () => {
  it('safetensors/ok.safetensors is read with the values written (the control case)', async () => {
    const bytes = encodeSafetensors(
      [
        { name: 'w', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 7]) },
        { name: 'b', dtype: 'F16', shape: [3], data: Float32Array.from([0.5, -2, 1024]) },
      ],
      { format: 'pt' },
    );
    const f = await openSafetensors(inMemory('safetensors/ok.safetensors', { bytes }));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.get('w')?.shape).toEqual([2, 3]);
    expect(Array.from(await readSafetensorFloat32(f, 'w'))).toEqual(Array.from(Float32Array.from([1, -2, 3.5, 0, 1e-3, 7])));
    expect(Array.from(await readSafetensorFloat32(f, 'b'))).toEqual([0.5, -2, 1024]);
  });

  it.each<[string, () => { bytes: Uint8Array; headerEnd: number }, RegExp]>([
    ['safetensors/too_short.safetensors', () => ({ bytes: new Uint8Array(5), headerEnd: 0 }), /header length: file has 5 bytes/],
    ['safetensors/header_past_end.safetensors', () => stFile({}, new Uint8Array(4), 1000n), /header length: header length 1000 runs past the end of the file \(14 bytes; truncated\?\)/],
    ['safetensors/header_huge.safetensors', () => stFile({}, new Uint8Array(4), 2n ** 63n), /header length: header length 9223372036854775808 \(expected at most 100000000 bytes/],
    ['safetensors/header_not_json.safetensors', () => stFile('not json at all'), /header: header is not valid UTF-8 JSON/],
    ['safetensors/header_not_utf8.safetensors', () => stFile(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), /header: header is not valid UTF-8 JSON/],
    ['safetensors/header_array.safetensors', () => stFile([1, 2]), /header: header is not a JSON object/],
    ['safetensors/offsets_past_end.safetensors', () => stFile({ t: { ...F32x4, data_offsets: [16, 32] } }), /tensor t\.data_offsets: data ends at byte \d+, the file has \d+ \(truncated\?\)/],
    ['safetensors/offsets_reversed.safetensors', () => stFile({ t: { ...F32x4, data_offsets: [8, 4] } }), /tensor t\.data_offsets: data_offsets \[8,4\] \(expected \[begin, end\] with 0 <= begin <= end\)/],
    ['safetensors/offsets_overlap.safetensors', () => stFile({ a: F32x4, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }), /tensor b\.data_offsets: data overlaps tensor a/],
    ['safetensors/dtype_unknown.safetensors', () => stFile({ t: { ...F32x4, dtype: 'Q4' } }), /tensor t\.dtype: dtype "Q4" \(expected BOOL, U8/],
    ['safetensors/size_mismatch.safetensors', () => stFile({ t: { ...F32x4, data_offsets: [0, 12] } }), /tensor t\.data_offsets: data_offsets \[0, 12\] hold 12 bytes, shape \[4\] of F32 needs 16/],
    ['safetensors/shape_overflow.safetensors', () => stFile({ t: { ...F32x4, shape: [2 ** 40, 2 ** 40] } }), /tensor t\.data_offsets: .*shape \[1099511627776, 1099511627776\] of F32 needs/],
  ])('%s is refused from its header alone, naming the file and the field', async (name, build, message) => {
    const f = build();
    const src = inMemory(name, f);
    const opened = openSafetensors(src);
    await expect(opened).rejects.toThrow(FormatError);
    await expect(opened).rejects.toThrow(new RegExp(`^${name.replace(/[./]/g, '\\$&')}: ${message.source}`));
    expect(src.reachedEnd).toBeLessThanOrEqual(Math.max(8, f.headerEnd));
  });

  it('safetensors/header_over_cap.safetensors: a 100 MB + 1 header length in a file that big is refused after reading 8 bytes', async () => {
    const len = MAX_HEADER_BYTES + 1;
    const lenField = new Uint8Array(8);
    new DataView(lenField.buffer).setBigUint64(0, BigInt(len), true);
    // A file of 8 + len + 16 bytes whose header is spaces: without the cap the reader would read (and hold) all of it.
    const src = recorded('safetensors/header_over_cap.safetensors', 8 + len + 16, (o, n) => {
      const out = new Uint8Array(n).fill(0x20);
      for (let i = o; i < Math.min(8, o + n); i++) out[i - o] = lenField[i];
      return out;
    });
    await expect(openSafetensors(src)).rejects.toThrow(/^safetensors\/header_over_cap\.safetensors: header length: header length 100000001 \(expected at most 100000000 bytes/);
    expect(src.reachedEnd).toBe(8);
  });
});

// Hostile bundles and bombs that would be too big to commit, built here: a FIFO or a link in place of
// a shard, a 100 MB manifest, a manifest nested 20 000 deep, gzip/zlib bombs in NIfTI, PNG and GIfTI.
// Each must end with a clear error (or the right values) without hanging or taking the memory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Gzip, zipSync, zlibSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import type { ShardSource } from '../../../src/core/bundle/source.ts';
import { MAX_JSON_DEPTH, MAX_MANIFEST_BYTES, validateBundle } from '../../../src/core/bundle/validate.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { readGifti } from '../../../src/core/formats/gifti.ts';
import { readNifti } from '../../../src/core/formats/nifti.ts';
import { loadTorch } from '../../../src/core/formats/torch.ts';
import { decodePng } from '../../../src/core/tensor/png.ts';
import { concatBytes } from '../../../src/core/tensor/typed.ts';
import { fileSource } from '../../../src/node/files.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { openHdf5File } from '../../../src/node/hdf5.ts';
import { removeTinyBundles, writeTinyBundle } from '../bundle/tinyBundle.ts';
import { hostilePath } from './helpers.ts';

afterAll(removeTinyBundles);

/** A gzip stream of `head` followed by `zeros` zero bytes, built 1 MiB at a time (never whole in memory). */
function gzipWithZeros(head: Uint8Array, zeros: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const gz = new Gzip({ level: 1 }, (chunk) => parts.push(chunk));
  gz.push(head);
  const block = new Uint8Array(1 << 20);
  for (let left = zeros; left > 0; left -= block.byteLength) gz.push(block.subarray(0, Math.min(left, block.byteLength)));
  gz.push(new Uint8Array(0), true);
  return concatBytes(parts);
}

describe('hostile bundle folders (FsShardSource, validate, open)', () => {
  it('a FIFO in place of a shard is refused, not waited on', async () => {
    const { dir, manifest } = await writeTinyBundle();
    const shard = manifest.shards[0].path;
    unlinkSync(join(dir, shard));
    execFileSync('mkfifo', [join(dir, shard)]);
    const report = await validateBundle(new FsShardSource(dir));
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => e.message)).toContain(`${shard}: is a FIFO (named pipe); refused (expected a regular file)`);
  });

  it('a FIFO given as an input file (.pt, .nii, .pkl, .hdf5) is refused, not waited on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirage-hostile-'));
    const fifo = join(dir, 'recons.pt');
    execFileSync('mkfifo', [fifo]);
    await expect(fileSource(fifo)).rejects.toThrow(`${fifo}: is a FIFO (named pipe); refused (expected a regular file)`);
    await expect(openHdf5File(fifo, 'betas', 'betas.hdf5')).rejects.toThrow('betas.hdf5: is a FIFO (named pipe); refused (expected a regular HDF5 file)');
    rmSync(dir, { recursive: true, force: true });
  });

  it('a shard that is a link to /etc/passwd is refused, its bytes never read', async () => {
    const { dir, manifest } = await writeTinyBundle();
    const shard = manifest.shards[0].path;
    unlinkSync(join(dir, shard));
    symlinkSync('/etc/passwd', join(dir, shard));
    const src = new FsShardSource(dir);
    await expect(src.read(shard)).rejects.toThrow(`${shard}: is a link to /etc/passwd, outside the bundle folder; refused`);
    expect(await src.size(shard)).toBe(readFileSync('/etc/passwd').byteLength); // stat follows; read refuses
  });

  it('a 100 MB manifest.json is refused before it is read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirage-hostile-'));
    try {
      truncateSync(join(dir, 'manifest.json'), 0);
    } catch {
      writeFileSync(join(dir, 'manifest.json'), '');
    }
    truncateSync(join(dir, 'manifest.json'), 100 << 20); // sparse: no disk, no memory
    const fs = new FsShardSource(dir);
    let reads = 0;
    const counting: ShardSource = { label: fs.label, size: (p) => fs.size(p), read: (p, o) => (reads++, fs.read(p, o)) };
    const expected = `manifest.json: is ${100 << 20} bytes; refused (expected a manifest of at most ${MAX_MANIFEST_BYTES} bytes)`;
    const report = await validateBundle(counting);
    expect(report.errors.map((e) => e.message)).toEqual([expected]);
    await expect(Bundle.open(counting)).rejects.toThrow(expected);
    expect(reads).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a manifest nested 20 000 deep is refused naming where, without a stack overflow', async () => {
    const { dir } = await writeTinyBundle();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const text = JSON.stringify({ ...m, extensions: { deep: '@@' } }).replace('"@@"', '['.repeat(20000) + ']'.repeat(20000));
    writeFileSync(join(dir, 'manifest.json'), text);
    const report = await validateBundle(new FsShardSource(dir), { verify: 'sizes' });
    expect(report.errors.map((e) => e.message)).toEqual([
      `manifest.json: extensions.deep[0][0][0][0][0][0]: nested more than ${MAX_JSON_DEPTH} levels deep; refused (expected JSON nested at most ${MAX_JSON_DEPTH} levels)`,
    ]);
    await expect(Bundle.open(new FsShardSource(dir))).rejects.toThrow(BundleError);
    // the same through the page's readers (bytes in memory instead of a folder)
    const page: ShardSource = { label: 'page', read: async (p) => new Uint8Array(readFileSync(join(dir, p))) };
    await expect(Bundle.open(page)).rejects.toThrow(/nested more than 64 levels deep/);
  });
});

/** A PNG with the given IHDR size (8-bit RGB) and IDAT bytes, CRCs computed. */
function png(width: number, height: number, idat: Uint8Array): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const parts = [Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  return concatBytes(parts);
}

describe('bombs built at test time', () => {
  const okNii = new Uint8Array(readFileSync(hostilePath('nifti/ok.nii')));

  it('NIfTI: 64 MiB of zeros gzipped after a 3x4x2 volume is refused after 1 MiB, not inflated', async () => {
    const bomb = gzipWithZeros(okNii, 64 << 20);
    expect(bomb.byteLength).toBeLessThan(1 << 20);
    const src = bytesSource(bomb, 'bomb.nii.gz');
    let compressedRead = 0;
    const counting = { ...src, read: (o: number, n: number) => src.read(o, n).then((b) => ((compressedRead += b.byteLength), b)) };
    await expect(readNifti(counting)).rejects.toThrow(
      /^bomb\.nii\.gz: after volume 0: gzip stream holds more than 1048576 bytes after the data the header describes/,
    );
    // it stopped early: most of the compressed stream was never even read
    expect(compressedRead).toBeLessThan(bomb.byteLength / 2);
  });

  it('NIfTI: a gzipped mask whose header says 512x512x256 is refused from the header', async () => {
    const h = okNii.slice(0, 352);
    new DataView(h.buffer).setInt16(42, 512, true);
    new DataView(h.buffer).setInt16(44, 512, true);
    new DataView(h.buffer).setInt16(46, 256, true);
    const bomb = gzipWithZeros(h, 8 << 20);
    await expect(readNifti(bytesSource(bomb, 'mask.nii.gz'))).rejects.toThrow(
      /^mask\.nii\.gz: dim: dimensions \[512,512,256\] give 67108864 voxels per volume \(expected at most 33554432 voxels per 3-D volume\)/,
    );
  });

  it('PNG: an IDAT that inflates to 64 MiB for a 16x16 image stops at what the header needs', () => {
    // filter-0 rows of zeros, then far more zeros than 16x16 needs
    const img = decodePng(png(16, 16, zlibSync(new Uint8Array(64 << 20), { level: 1 })), 'bomb.png');
    expect([img.width, img.height, img.data.byteLength]).toEqual([16, 16, 16 * 16 * 3]);
    expect(img.data.every((v: number) => v === 0)).toBe(true);
  });

  it('PNG: an IHDR of 100000x100000 is refused before anything is allocated', () => {
    expect(() => decodePng(png(100000, 100000, zlibSync(new Uint8Array(10))), 'huge.png')).toThrow(/^huge\.png: IHDR\.width\/height: image is 100000x100000 \(expected at most 67108864 pixels\)/);
  });

  it('.pt: a deflated data.pkl of 80 MiB (a pickle bomb) is refused from the zip directory', async () => {
    const zip = zipSync({ 'bomb/data.pkl': [new Uint8Array(80 << 20), { level: 1 }] });
    expect(zip.byteLength).toBeLessThan(1 << 20);
    await expect(loadTorch(bytesSource(zip, 'bomb.pt'))).rejects.toThrow(/^bomb\.pt: bomb\/data\.pkl: data\.pkl is 83886080 bytes \(expected at most 67108864 bytes/);
  });

  it('GIfTI: a GZipBase64Binary array that inflates to 64 MiB for 3 floats is refused', async () => {
    const z = zlibSync(new Uint8Array(64 << 20), { level: 1 });
    const b64 = Buffer.from(z).toString('base64');
    const xml = `<?xml version="1.0"?><GIFTI Version="1.0"><DataArray Intent="NIFTI_INTENT_SHAPE" DataType="NIFTI_TYPE_FLOAT32" ArrayIndexingOrder="RowMajorOrder" Dimensionality="1" Dim0="3" Encoding="GZipBase64Binary" Endian="LittleEndian"><Data>${b64}</Data></DataArray></GIFTI>`;
    await expect(readGifti(bytesSource(new TextEncoder().encode(xml), 'bomb.surf.gii'))).rejects.toThrow(/^bomb\.surf\.gii: DataArray 0: data has 13 bytes \(expected 12 bytes for dims \[3\]\)/);
  });
});

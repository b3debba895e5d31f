// Input files on disk as the core's byte interfaces: a ByteSource per file (positioned reads, so a
// multi-gigabyte pickle is never read whole) and a FileTree per folder (what the importers walk).
import { readFile, open, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import type { ByteSource } from '../core/formats/byteSource.ts';
import type { FileTree } from '../core/importers/common.ts';
import type { FloatImage } from '../core/evaluate/image.ts';
import { fromUint8 } from '../core/evaluate/image.ts';
import { decodePng, pngToRgb } from '../core/tensor/png.ts';

/** Refuses anything but a regular file (a FIFO blocks the first read forever, a device never ends). */
export async function assertRegularFile(path: string, expected = 'a regular file', name = path): Promise<void> {
  const st = await stat(resolve(path));
  if (!st.isFile()) throw new BundleError(name, `is ${st.isFIFO() ? 'a FIFO (named pipe)' : st.isDirectory() ? 'a directory' : 'not a regular file'}; refused`, { expected });
}

/** A whole input file, read only if it is a regular file. */
export async function readRegularFile(path: string): Promise<Uint8Array> {
  await assertRegularFile(path);
  return new Uint8Array(await readFile(path));
}

/** A ByteSource over a file on disk (positioned reads; the file is opened per read). */
export async function fileSource(path: string): Promise<ByteSource> {
  const full = resolve(path);
  await assertRegularFile(path);
  const { size } = await stat(full);
  return {
    size,
    name: path,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = new Uint8Array(n);
      const fh = await open(full, 'r');
      try {
        let got = 0;
        while (got < n) {
          const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
          if (!bytesRead) break;
          got += bytesRead;
        }
        return got === n ? buf : buf.subarray(0, got);
      } finally {
        await fh.close();
      }
    },
  };
}

/** A FileTree over a folder on disk; names in messages are `<root>/<path>`. */
export function fsTree(root: string): FileTree {
  const dir = resolve(root);
  return {
    label: root,
    async open(path) {
      const full = join(dir, path);
      try {
        if (!(await stat(full)).isFile()) return null;
      } catch {
        return null;
      }
      const src = await fileSource(full);
      return { ...src, name: join(root, path) };
    },
    async list(sub) {
      try {
        return (await readdir(join(dir, sub))).sort();
      } catch {
        return [];
      }
    },
  };
}

/** A PNG file as a float image in [0, 1] (what the metrics take); errors name the file. */
export async function readPngImage(path: string): Promise<FloatImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path);
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(path, `cannot read file (${(e as Error).message})`, { expected: 'a readable PNG file' });
  }
  const png = decodePng(bytes, path);
  return fromUint8(pngToRgb(png), png.width, png.height, 3);
}

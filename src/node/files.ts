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

/** The most a whole-file input (a .npy, a PNG, a CSV, captions) may be: it is held in memory at once,
 *  and issue 16 caps what any input may take at about 1.5 GB. Bigger inputs are read by range
 *  (fileSource, the HDF5 reader), never through readRegularFile. */
export const MAX_WHOLE_FILE_BYTES = 1024 ** 3;

/** Refuses anything but a regular file (a FIFO blocks the first read forever, a device never ends). */
export async function assertRegularFile(path: string, expected = 'a regular file', name = path): Promise<void> {
  const st = await stat(resolve(path));
  if (!st.isFile()) throw new BundleError(name, `is ${st.isFIFO() ? 'a FIFO (named pipe)' : st.isDirectory() ? 'a directory' : 'not a regular file'}; refused`, { expected });
}

export interface ReadRegularOptions {
  /** What the file should be, for the message ("an N x 91168 .npy"). */
  expected?: string;
  /** The flag or field the path came from ("--latents"). */
  field?: string;
  /** Refused above this many bytes (default MAX_WHOLE_FILE_BYTES). */
  maxBytes?: number;
}

/** A whole input file, read only if it is a regular file no bigger than maxBytes; every failure
 *  (missing, unreadable, FIFO, device, folder, too big) is a BundleError naming the file. */
export async function readRegularFile(path: string, opts: ReadRegularOptions = {}): Promise<Uint8Array> {
  const { expected = 'a regular file', field, maxBytes = MAX_WHOLE_FILE_BYTES } = opts;
  const fail = (message: string, cause?: unknown) => new BundleError(path, message, { field, expected, cause });
  try {
    const st = await stat(resolve(path));
    if (!st.isFile()) throw fail(`is ${st.isFIFO() ? 'a FIFO (named pipe)' : st.isDirectory() ? 'a directory' : 'not a regular file'}; refused`);
    if (st.size > maxBytes) throw fail(`is ${st.size} bytes, over the ${maxBytes}-byte limit for a file read whole; refused`);
    // stat before open: opening a FIFO for reading blocks until a writer appears.
    const bytes = new Uint8Array(await readFile(path));
    if (bytes.byteLength > maxBytes) throw fail(`grew past the ${maxBytes}-byte limit while being read; refused`);
    return bytes;
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw fail(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
}

/** A whole input text file (UTF-8), under the same checks as readRegularFile. */
export async function readRegularText(path: string, opts: ReadRegularOptions = {}): Promise<string> {
  return new TextDecoder('utf-8').decode(await readRegularFile(path, opts));
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
      const name = join(root, path);
      try {
        // missing or a folder: not this file (the importers and packers probe optional names)
        if ((await stat(full)).isDirectory()) return null;
      } catch {
        return null;
      }
      // a FIFO or device under a file's name is refused, not passed over as missing
      await assertRegularFile(full, 'a regular file', name);
      const src = await fileSource(full);
      return { ...src, name };
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
  const bytes = await readRegularFile(path, { expected: 'a readable PNG file' });
  const png = decodePng(bytes, path);
  return fromUint8(pngToRgb(png), png.width, png.height, 3);
}

// A read-only zip directory over a ByteSource (PyTorch's .pt files are zips). Members are returned
// as windows of the source, so a multi-GB stored (uncompressed) member is never read whole. ZIP64
// is supported because checkpoints and reconstruction tensors often pass 4 GB.
import { Inflate } from 'fflate';
import { readExactly, sourceName, subSource, type ByteSource } from './byteSource.ts';
import { FormatError } from './errors.ts';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  file: string;
  entries: Map<string, ZipEntry>;
  /**
   * The member's bytes as a ByteSource (stored: a window of the file; deflated: inflated lazily, only
   * up to the furthest byte read, so a 256 MiB member of which 27 KB are used costs 27 KB).
   */
  open(name: string): Promise<ByteSource>;
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}
function u64(b: Uint8Array, o: number): number {
  return u32(b, o) + u32(b, o + 4) * 0x100000000;
}

/** Deflate cannot expand more than about 1032:1; a member claiming more is lying about its size. */
const MAX_DEFLATE_RATIO = 1032;
/** Compressed bytes fed per step: deflate expands at most ~1032x, so at most ~4 MiB comes out per step. */
const INFLATE_STEP = 1 << 12;

/**
 * A deflated member as a ByteSource of its declared `size`: inflates from the start only as far as
 * the furthest byte asked for and keeps that prefix. Inflating past `size` is refused (a member
 * that lies about its size), as is a stream that ends before it.
 */
function inflatingSource(comp: ByteSource, size: number, label: string): ByteSource {
  let out = new Uint8Array(Math.min(size, 1 << 16));
  let have = 0;
  let inOffset = 0;
  let ended = false;
  const inflater = new Inflate((chunk, final) => {
    if (have + chunk.byteLength > size) {
      throw new FormatError(label, `inflates to more than its declared ${size} bytes`, { field: 'zip member size', expected: `${size} bytes` });
    }
    if (have + chunk.byteLength > out.byteLength) {
      const grown = new Uint8Array(Math.min(size, Math.max(have + chunk.byteLength, out.byteLength * 2)));
      grown.set(out.subarray(0, have));
      out = grown;
    }
    out.set(chunk, have);
    have += chunk.byteLength;
    if (final) ended = true;
  });
  let busy: Promise<void> = Promise.resolve();
  const fill = async (end: number): Promise<void> => {
    while (have < end) {
      if (ended || inOffset >= comp.size) {
        throw new FormatError(label, `deflate stream ends after ${have} of ${size} bytes (truncated or corrupt)`, { field: 'zip member', expected: `${size} bytes` });
      }
      const data = await comp.read(inOffset, Math.min(INFLATE_STEP, comp.size - inOffset));
      inOffset += data.byteLength;
      try {
        inflater.push(data, inOffset >= comp.size);
      } catch (e) {
        if (e instanceof FormatError) throw e;
        throw new FormatError(label, `corrupt deflate data: ${(e as Error).message}`, { field: 'zip member', expected: 'a valid deflate stream', cause: e });
      }
    }
  };
  return {
    size,
    name: label,
    async read(offset, length) {
      const end = Math.min(size, offset + length);
      // Reads are serialised: two concurrent reads must not push the same input twice.
      const run = busy.then(() => fill(end));
      busy = run.catch(() => undefined);
      await run;
      return out.subarray(Math.min(offset, end), end);
    },
  };
}

export async function openZip(src: ByteSource): Promise<ZipArchive> {
  const file = sourceName(src);
  const tailLen = Math.min(src.size, 65557 + 20);
  const tailStart = src.size - tailLen;
  const tail = await readExactly(src, tailStart, tailLen, 'zip end of central directory');
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FormatError(file, 'not a zip archive (no end-of-central-directory record; truncated?)', { field: 'zip', expected: 'a PyTorch zip file (torch.save, PyTorch >= 1.6)' });
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff || cdSize === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(tail, loc) !== 0x07064b50) throw new FormatError(file, 'ZIP64 locator missing', { field: 'zip64' });
    const recOff = u64(tail, loc + 8);
    const rec = await readExactly(src, recOff, 56, 'zip64 end record');
    if (u32(rec, 0) !== 0x06064b50) throw new FormatError(file, 'bad ZIP64 end record', { field: 'zip64' });
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  const cd = await readExactly(src, cdOffset, cdSize, 'zip central directory');
  const entries = new Map<string, ZipEntry>();
  let o = 0;
  for (let k = 0; k < count; k++) {
    if (u32(cd, o) !== 0x02014b50) throw new FormatError(file, `bad central directory entry ${k}`, { field: 'zip central directory' });
    const method = u16(cd, o + 10);
    let compressedSize = u32(cd, o + 20);
    let size = u32(cd, o + 24);
    const nameLen = u16(cd, o + 28);
    const extraLen = u16(cd, o + 30);
    const commentLen = u16(cd, o + 32);
    let localHeaderOffset = u32(cd, o + 42);
    const name = new TextDecoder().decode(cd.subarray(o + 46, o + 46 + nameLen));
    let e = o + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = u16(cd, e);
      const len = u16(cd, e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        if (size === 0xffffffff) {
          size = u64(cd, p);
          p += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(cd, p);
          p += 8;
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = u64(cd, p);
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    o = eEnd + commentLen;
  }
  return {
    file,
    entries,
    async open(name) {
      const ent = entries.get(name);
      if (!ent) throw new FormatError(file, `zip member "${name}" missing`, { field: name, expected: 'a member of that name' });
      const lh = await readExactly(src, ent.localHeaderOffset, 30, `local header of ${name}`);
      if (u32(lh, 0) !== 0x04034b50) throw new FormatError(file, `bad local header for ${name}`, { field: name });
      const dataStart = ent.localHeaderOffset + 30 + u16(lh, 26) + u16(lh, 28);
      if (dataStart + ent.compressedSize > src.size) {
        throw new FormatError(file, `member ${name} runs past the end of the file (truncated?)`, { field: name, expected: `${dataStart + ent.compressedSize} bytes, file has ${src.size}` });
      }
      const label = `${file}:${name}`;
      if (ent.method === 0) {
        if (ent.size !== ent.compressedSize) throw new FormatError(file, `stored member ${name} says ${ent.size} bytes but occupies ${ent.compressedSize}`, { field: name, expected: 'equal sizes for a stored member' });
        return subSource(src, dataStart, ent.size, label);
      }
      if (ent.method === 8) {
        if (ent.size > ent.compressedSize * MAX_DEFLATE_RATIO + 1024) {
          throw new FormatError(file, `member ${name} claims ${ent.size} bytes from ${ent.compressedSize} compressed`, { field: name, expected: `at most ${MAX_DEFLATE_RATIO}x its compressed size (deflate's limit)` });
        }
        return inflatingSource(subSource(src, dataStart, ent.compressedSize, label), ent.size, label);
      }
      throw new FormatError(file, `zip member ${name} uses compression method ${ent.method}`, { field: name, expected: 'stored (0) or deflate (8)' });
    },
  };
}

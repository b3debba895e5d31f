// Random-access bytes, the one way readers get at a file: the CLI hands in a file handle, the page a
// File/Blob, tests a Uint8Array. Readers never assume the whole file fits in memory.
import { FormatError } from './errors.ts';

export interface ByteSource {
  /** Total length in bytes. */
  readonly size: number;
  /** Shown in error messages (a path or a File's name). */
  readonly name?: string;
  /** Exactly `length` bytes at `offset` (fewer only at the end of the source). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function sourceName(src: ByteSource): string {
  return src.name ?? '<bytes>';
}

export function bytesSource(bytes: Uint8Array, name?: string): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.byteLength, offset + length));
    },
  };
}

/** A browser File or Blob (slice + arrayBuffer never loads the rest of the file). */
export function blobSource(blob: Blob, name?: string): ByteSource {
  return {
    size: blob.size,
    name: name ?? (blob as { name?: string }).name,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}

/** A window [offset, offset + size) of another source (a member of a zip, a lazy pickle buffer). */
export function subSource(src: ByteSource, offset: number, size: number, name?: string): ByteSource {
  return {
    size,
    name: name ?? src.name,
    read(o, length) {
      const n = Math.max(0, Math.min(length, size - o));
      return src.read(offset + o, n);
    },
  };
}

export async function readExactly(src: ByteSource, offset: number, length: number, what: string): Promise<Uint8Array> {
  const b = await src.read(offset, length);
  if (b.byteLength !== length) {
    throw new FormatError(sourceName(src), `file ends early while reading ${what}`, {
      field: what,
      expected: `${length} bytes at offset ${offset}, file has ${src.size}`,
    });
  }
  return b;
}

/**
 * Largest file `readAll` loads whole (surfaces, GIfTI, labels: a few MB to tens of MB in practice;
 * an ASCII GIfTI is decoded to a string and split, several times its size in memory).
 */
export const MAX_WHOLE_FILE_BYTES = 128 << 20;

export async function readAll(src: ByteSource, max = MAX_WHOLE_FILE_BYTES): Promise<Uint8Array> {
  if (src.size > max) {
    throw new FormatError(sourceName(src), `file is ${src.size} bytes; refused`, { field: 'size', expected: `at most ${max} bytes for a file read whole` });
  }
  return readExactly(src, 0, src.size, 'the whole file');
}

export function isGzip(head: Uint8Array): boolean {
  return head.byteLength >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Sequential reading with look-ahead: `ensure(n)` (async) makes n bytes available, then the sync
 * getters consume them. Used by the pickle reader (opcode at a time) and the NIfTI reader.
 */
export interface SequentialReader {
  readonly name: string;
  /** Bytes consumed so far. */
  readonly position: number;
  /** Reads exactly n bytes (throws a FormatError naming `what` if the stream ends first). */
  take(n: number, what: string): Promise<Uint8Array>;
  /** Skips n bytes. */
  skip(n: number, what: string): Promise<void>;
}

/** A SequentialReader over a plain ByteSource, reading `chunk` bytes at a time. */
export class SourceReader implements SequentialReader {
  readonly name: string;
  private buf = new Uint8Array(0);
  private bufStart = 0; // source offset of buf[0]
  private pos = 0;
  constructor(
    private readonly src: ByteSource,
    start = 0,
    private readonly chunk = 1 << 20,
  ) {
    this.name = sourceName(src);
    this.pos = start;
    this.bufStart = start;
  }
  get position(): number {
    return this.pos;
  }
  async take(n: number, what: string): Promise<Uint8Array> {
    const inBuf = this.pos - this.bufStart;
    if (inBuf + n <= this.buf.byteLength) {
      this.pos += n;
      return this.buf.subarray(inBuf, inBuf + n);
    }
    if (n >= this.chunk) {
      const out = await readExactly(this.src, this.pos, n, what);
      this.pos += n;
      return out;
    }
    const len = Math.min(Math.max(this.chunk, n), this.src.size - this.pos);
    this.buf = len > 0 ? (await this.src.read(this.pos, len)).slice() : new Uint8Array(0);
    this.bufStart = this.pos;
    if (this.buf.byteLength < n) {
      throw new FormatError(this.name, `file ends early while reading ${what}`, {
        field: what,
        expected: `${n} more bytes at offset ${this.pos}, file has ${this.src.size}`,
      });
    }
    this.pos += n;
    return this.buf.subarray(0, n);
  }
  async skip(n: number, what: string): Promise<void> {
    if (this.pos + n > this.src.size) {
      throw new FormatError(this.name, `file ends early while skipping ${what}`, {
        field: what,
        expected: `${n} bytes at offset ${this.pos}, file has ${this.src.size}`,
      });
    }
    this.pos += n;
  }
}

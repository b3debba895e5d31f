// Streaming gunzip as a SequentialReader: a 4-D NIfTI of several GB is read volume by volume with
// only the current window of decompressed bytes in memory (fflate's incremental Gunzip).
import { Gunzip } from 'fflate';
import { sourceName, type ByteSource, type SequentialReader } from './byteSource.ts';
import { FormatError } from './errors.ts';

export class GunzipReader implements SequentialReader {
  readonly name: string;
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private inOffset = 0;
  private pos = 0;
  private ended = false;
  private readonly inflater: Gunzip;

  constructor(
    private readonly src: ByteSource,
    // Compressed bytes fed per step: deflate expands at most ~1032x, so 16 KiB in never yields more
    // than ~17 MiB out at once, even from a gzip bomb.
    private readonly chunk = 1 << 14,
  ) {
    this.name = sourceName(src);
    this.inflater = new Gunzip((data, final) => {
      if (data.byteLength) {
        this.queue.push(data);
        this.queued += data.byteLength;
      }
      if (final) this.ended = true;
    });
  }

  get position(): number {
    return this.pos;
  }

  private async fill(n: number, what: string): Promise<void> {
    while (this.queued < n) {
      if (this.ended || this.inOffset >= this.src.size) {
        throw new FormatError(this.name, `gzip stream ends early (truncated file?) while reading ${what}`, {
          field: what,
          expected: `${n - this.queued} more decompressed bytes at offset ${this.pos}`,
        });
      }
      const len = Math.min(this.chunk, this.src.size - this.inOffset);
      const data = await this.src.read(this.inOffset, len);
      this.inOffset += data.byteLength;
      const last = this.inOffset >= this.src.size;
      try {
        this.inflater.push(data, last);
      } catch (e) {
        throw new FormatError(this.name, `corrupt or truncated gzip data: ${(e as Error).message}`, {
          field: what,
          expected: 'a complete gzip stream',
          cause: e,
        });
      }
      if (last && !this.ended && this.queued < n) {
        throw new FormatError(this.name, 'gzip stream is truncated (no end-of-stream marker)', {
          field: what,
          expected: 'a complete gzip stream',
        });
      }
    }
  }

  async take(n: number, what: string): Promise<Uint8Array> {
    await this.fill(n, what);
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const head = this.queue[0];
      const k = Math.min(head.byteLength, n - o);
      out.set(head.subarray(0, k), o);
      o += k;
      if (k === head.byteLength) this.queue.shift();
      else this.queue[0] = head.subarray(k);
    }
    this.queued -= n;
    this.pos += n;
    return out;
  }

  /**
   * Reads to the end of the compressed input and checks that the gzip stream ended properly.
   * `maxExtra`: decompressed bytes allowed after what was consumed; more is refused (a bomb hidden
   * after the data) instead of inflating it all.
   */
  async finish(what = 'end of file', maxExtra = Infinity): Promise<void> {
    const consumed = this.pos;
    const drop = () => {
      this.pos += this.queued;
      this.queue.length = 0;
      this.queued = 0;
      if (this.pos - consumed > maxExtra) {
        throw new FormatError(this.name, `gzip stream holds more than ${maxExtra} bytes after the data the header describes`, {
          field: what,
          expected: `the stream to end after ${consumed} decompressed bytes`,
        });
      }
    };
    drop();
    while (!this.ended && this.inOffset < this.src.size) {
      const len = Math.min(this.chunk, this.src.size - this.inOffset);
      const data = await this.src.read(this.inOffset, len);
      this.inOffset += data.byteLength;
      try {
        this.inflater.push(data, this.inOffset >= this.src.size);
      } catch (e) {
        throw new FormatError(this.name, `corrupt or truncated gzip data: ${(e as Error).message}`, {
          field: what,
          expected: 'a complete gzip stream',
          cause: e,
        });
      }
      drop();
    }
    if (!this.ended) {
      throw new FormatError(this.name, 'gzip stream is truncated (no end-of-stream marker)', {
        field: what,
        expected: 'a complete gzip stream',
      });
    }
    // fflate does not check the 8-byte trailer; ISIZE (length mod 2^32) catches a cut-off tail.
    const total = this.pos + this.queued;
    const tail = await this.src.read(this.src.size - 4, 4);
    const isize = tail.byteLength === 4 ? new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true) : -1;
    if (isize !== total % 2 ** 32) {
      throw new FormatError(this.name, 'gzip trailer does not match the data (truncated file?)', {
        field: 'gzip trailer ISIZE',
        expected: `${total % 2 ** 32} (decompressed length), found ${isize}`,
      });
    }
  }

  async skip(n: number, what: string): Promise<void> {
    let left = n;
    while (left > 0) {
      const k = Math.min(left, this.chunk);
      await this.take(k, what);
      left -= k;
    }
  }
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, pngToRgb } from '../../../src/core/tensor/png.ts';
import { array } from './fixtures.ts';

const DIR = new URL('../../fixtures/evaluate/png/', import.meta.url);
const meta = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8'));
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const read = (f: string) => new Uint8Array(readFileSync(new URL(f, DIR)));

describe('decodePng reads PNGs written by PIL', () => {
  for (const c of meta.cases) {
    it(c.file, () => {
      const png = decodePng(read(c.file), c.file);
      expect([png.width, png.height, png.channels]).toEqual([c.width, c.height, c.channels]);
      if (c.array) {
        expect(Buffer.compare(Buffer.from(pngToRgb(png)), Buffer.from(array(c.array).data as Uint8Array))).toBe(0);
      } else {
        expect(Buffer.compare(Buffer.from(png.data), Buffer.from(b64(c.pixels)))).toBe(0);
        expect(Buffer.compare(Buffer.from(pngToRgb(png)), Buffer.from(b64(c.rgb)))).toBe(0);
      }
    });
  }
  it('refuses 16-bit PNGs with the file and field named', () => {
    expect(() => decodePng(read('gray16.png'), 'gray16.png')).toThrow(/gray16\.png: IHDR\.bitDepth: bit depth 16/);
  });
  it('refuses non-PNG bytes and corrupted chunks', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png')).toThrow(/x\.png: signature/);
    const bad = read('rgb.png').slice();
    bad[40] ^= 0xff; // inside IDAT
    expect(() => decodePng(bad, 'bad.png')).toThrow(/CRC mismatch/);
  });
  it('refuses interlaced PNGs', () => {
    const bytes = read('gray.png').slice();
    bytes[8 + 8 + 12] = 1; // IHDR interlace byte
    // fix the IHDR CRC so that the interlace check is what fails
    const crc = crc32(bytes.subarray(12, 12 + 4 + 13));
    new DataView(bytes.buffer).setUint32(8 + 8 + 13, crc);
    expect(() => decodePng(bytes, 'i.png')).toThrow(/interlaced/);
  });
});

describe('encodePng', () => {
  it('round-trips RGB, grey and RGBA through the decoder', () => {
    const w = 31;
    const h = 9;
    for (const ch of [1, 3, 4] as const) {
      const px = new Uint8Array(w * h * ch);
      for (let i = 0; i < px.length; i++) px[i] = (i * 37 + (i >> 5) * 11) & 0xff;
      const png = decodePng(encodePng(px, w, h, ch));
      expect(png.channels).toBe(ch);
      expect(Buffer.compare(Buffer.from(png.data), Buffer.from(px))).toBe(0);
    }
  });
  it('compresses a flat image well', () => {
    const px = new Uint8Array(64 * 64 * 3).fill(128);
    expect(encodePng(px, 64, 64).length).toBeLessThan(200);
  });
});

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

// PNG read/write on top of fflate's zlib: enough of the format for images this project makes and
// reads (stimuli, reconstructions, exported charts): bit depth 8 for every colour type (grey,
// grey+alpha, RGB, RGBA, palette), plus 1/2/4-bit grey and palette (PIL writes small palettes
// that way); non-interlaced. Anything else is refused with a clear error rather than
// decoded wrongly. Written here (not a dependency) because it is ~200 lines, runs unchanged in Node,
// workers and the page, and fflate is already installed.
import { unzlibSync, zlibSync } from 'fflate';
import { BundleError } from '../base/errors.ts';
import { concatBytes } from './typed.ts';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

export interface DecodedPng {
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (palette images are expanded to 3 or 4) */
  channels: 1 | 2 | 3 | 4;
  /** HWC uint8 */
  data: Uint8Array;
}

let crcTable: Uint32Array | null = null;
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const CHANNELS_OF_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes a PNG file's bytes. `file` names the input in errors. */
/** Most pixels a decoded PNG may have (2^26; reconstructions and stimuli are at most 1024x1024). */
export const MAX_PNG_PIXELS = 2 ** 26;

export function decodePng(bytes: Uint8Array, file = 'image.png'): DecodedPng {
  const fail = (msg: string, field?: string, expected?: string): never => {
    throw new BundleError(file, msg, { field, expected });
  };
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) fail('not a PNG file', 'signature', 'the 8-byte PNG signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  let bitDepth = 8;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]);
    const dataStart = pos + 8;
    const dataEnd = dataStart + len;
    if (dataEnd + 4 > bytes.length) fail(`chunk ${type} runs past the end of the file`, `chunk ${type}`, `${len} bytes + CRC`);
    if (crc32(bytes, pos + 4, dataEnd) !== view.getUint32(dataEnd)) fail(`CRC mismatch in chunk ${type}`, `chunk ${type}`, 'a matching CRC-32');
    const data = bytes.subarray(dataStart, dataEnd);
    if (type === 'IHDR') {
      width = view.getUint32(dataStart);
      height = view.getUint32(dataStart + 4);
      bitDepth = data[8];
      colorType = data[9];
      if (width === 0 || height === 0) fail(`empty image ${width}x${height}`, 'IHDR.width/height', 'positive');
      if (!(colorType in CHANNELS_OF_TYPE)) fail(`colour type ${colorType} is not valid`, 'IHDR.colorType', '0, 2, 3, 4 or 6');
      const subByteOk = (colorType === 0 || colorType === 3) && (bitDepth === 1 || bitDepth === 2 || bitDepth === 4);
      if (bitDepth !== 8 && !subByteOk) {
        fail(`bit depth ${bitDepth} is not supported`, 'IHDR.bitDepth', colorType === 0 || colorType === 3 ? '1, 2, 4 or 8' : '8');
      }
      if (data[10] !== 0 || data[11] !== 0) fail('unknown compression/filter method', 'IHDR', 'method 0');
      if (data[12] !== 0) fail('interlaced PNGs are not supported', 'IHDR.interlace', '0 (non-interlaced)');
    } else if (type === 'PLTE') palette = data.slice();
    else if (type === 'tRNS') trns = data.slice();
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      sawEnd = true;
      break;
    } else if ((bytes[pos + 4] & 0x20) === 0) fail(`unknown critical chunk ${type}`, `chunk ${type}`, 'IHDR, PLTE, IDAT, IEND');
    pos = dataEnd + 4;
  }
  if (colorType < 0) fail('no IHDR chunk', 'IHDR', 'an IHDR chunk first');
  if (!idat.length) fail('no IDAT chunk', 'IDAT', 'image data');
  if (!sawEnd) fail('file is truncated (no IEND chunk)', 'IEND', 'an IEND chunk');
  if (colorType === 3 && !palette) fail('palette image without PLTE chunk', 'PLTE', 'a palette');
  const total = idat.reduce((a, b) => a + b.length, 0);
  const z = new Uint8Array(total);
  let o = 0;
  for (const c of idat) {
    z.set(c, o);
    o += c.length;
  }
  const channels0 = CHANNELS_OF_TYPE[colorType];
  const need = height * ((bitDepth === 8 ? width * channels0 : Math.ceil((width * bitDepth) / 8)) + 1);
  if (width * height > MAX_PNG_PIXELS) fail(`image is ${width}x${height}`, 'IHDR.width/height', `at most ${MAX_PNG_PIXELS} pixels`);
  let raw: Uint8Array;
  try {
    // Inflated into exactly the bytes the header needs: a zlib bomb stops there (fflate fills a
    // given buffer and no further).
    raw = unzlibSync(z, { out: new Uint8Array(need) });
  } catch (e) {
    return fail(`image data does not inflate (${(e as Error).message})`, 'IDAT', 'a zlib stream');
  }
  const channels = CHANNELS_OF_TYPE[colorType];
  // bytes per complete pixel for the filters (1 for sub-byte depths), bytes per row
  const bpp = channels;
  const stride = bitDepth === 8 ? width * channels : Math.ceil((width * bitDepth) / 8);
  if (raw.length < height * (stride + 1)) fail(`image data has ${raw.length} bytes`, 'IDAT', `${height * (stride + 1)} bytes`);
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const prev = dst - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i];
      const a = i >= bpp ? px[dst + i - bpp] : 0;
      const b = y > 0 ? px[prev + i] : 0;
      const c = y > 0 && i >= bpp ? px[prev + i - bpp] : 0;
      let v: number;
      switch (f) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: v = x + paeth(a, b, c); break;
        default: return fail(`row ${y} has filter type ${f}`, 'IDAT', 'filter 0-4');
      }
      px[dst + i] = v & 0xff;
    }
  }
  let samples = px;
  if (bitDepth < 8) {
    // unpack 1/2/4-bit samples, most significant bits first; grey is scaled to 0..255
    samples = new Uint8Array(width * height);
    const mask = (1 << bitDepth) - 1;
    const scale = colorType === 0 ? 255 / mask : 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * bitDepth;
        const byte = px[y * stride + (bit >> 3)];
        samples[y * width + x] = ((byte >> (8 - bitDepth - (bit & 7))) & mask) * scale;
      }
    }
  }
  if (colorType !== 3) return { width, height, channels: channels as 1 | 2 | 3 | 4, data: samples };
  // Palette: expand to RGB, or RGBA when tRNS gives alpha.
  const ch = trns ? 4 : 3;
  const out = new Uint8Array(width * height * ch);
  const nPal = palette!.length / 3;
  for (let i = 0; i < width * height; i++) {
    const k = samples[i];
    if (k >= nPal) fail(`palette index ${k} out of range`, 'IDAT', `< ${nPal}`);
    out[i * ch] = palette![3 * k];
    out[i * ch + 1] = palette![3 * k + 1];
    out[i * ch + 2] = palette![3 * k + 2];
    if (ch === 4) out[i * ch + 3] = k < trns!.length ? trns![k] : 255;
  }
  return { width, height, channels: ch, data: out };
}

/** RGB uint8 HWC, like PIL's `.convert('RGB')` for grey (replicated) and alpha (dropped) images. */
export function pngToRgb(png: DecodedPng): Uint8Array {
  const n = png.width * png.height;
  if (png.channels === 3) return png.data;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (png.channels === 1 || png.channels === 2) {
      const g = png.data[i * png.channels];
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = g;
    } else {
      out[3 * i] = png.data[4 * i];
      out[3 * i + 1] = png.data[4 * i + 1];
      out[3 * i + 2] = png.data[4 * i + 2];
    }
  }
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/**
 * Encodes HWC uint8 pixels (channels 1, 3 or 4; default 3 = RGB) as a PNG. Each row gets the
 * filter with the smallest sum of absolute residuals (the usual libpng heuristic).
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4 = 3): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  }
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  const cand = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let bestScore = Infinity;
    const o = y * (stride + 1);
    for (let f = 0; f < 5; f++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const x = pixels[row + i];
        const a = i >= channels ? pixels[row + i - channels] : 0;
        const b = y > 0 ? pixels[row - stride + i] : 0;
        const c = y > 0 && i >= channels ? pixels[row - stride + i - channels] : 0;
        const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const r = (x - pred) & 0xff;
        cand[i] = r;
        score += r < 128 ? r : 256 - r;
      }
      if (score < bestScore) {
        bestScore = score;
        raw[o] = f;
        raw.set(cand, o + 1);
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', zlibSync(raw, { level: 6 })), chunk('IEND', new Uint8Array(0))];
  return concatBytes(parts);
}

// FreeSurfer's own files: binary triangle surfaces (lh.white, lh.pial, lh.inflated...), .annot
// parcellations and ASCII .label files. Big-endian throughout. Small enough to read whole.
import { readAll, sourceName, type ByteSource } from './byteSource.ts';
import { FormatError } from './errors.ts';

export interface FsSurface {
  /** float32 [n, 3] vertex positions (tkregister RAS, mm). */
  vertices: Float32Array;
  /** int32 [m, 3]. */
  faces: Int32Array;
  vertexCount: number;
  /** c_ras from the volume-info footer (scanner RAS = tkr RAS + cras), when present. */
  cras?: [number, number, number];
}

export async function readFsSurface(src: ByteSource): Promise<FsSurface> {
  const file = sourceName(src);
  const b = await readAll(src);
  if (b.byteLength < 3 || b[0] !== 0xff || b[1] !== 0xff || b[2] !== 0xfe) {
    throw new FormatError(file, 'not a FreeSurfer triangle surface', { field: 'magic', expected: 'bytes ff ff fe' });
  }
  // "created by ..." line terminated by two newlines
  let o = 3;
  while (o + 1 < b.byteLength && !(b[o] === 10 && b[o + 1] === 10)) o++;
  o += 2;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (o + 8 > b.byteLength) throw new FormatError(file, 'file ends inside the header', { field: 'header' });
  const nv = dv.getInt32(o, false);
  const nf = dv.getInt32(o + 4, false);
  o += 8;
  const need = o + nv * 12 + nf * 12;
  if (nv < 0 || nf < 0 || need > b.byteLength) {
    throw new FormatError(file, `file too short for ${nv} vertices and ${nf} faces`, { field: 'data', expected: `${need} bytes, file has ${b.byteLength}` });
  }
  const vertices = new Float32Array(nv * 3);
  for (let i = 0; i < nv * 3; i++) vertices[i] = dv.getFloat32(o + 4 * i, false);
  o += nv * 12;
  const faces = new Int32Array(nf * 3);
  for (let i = 0; i < nf * 3; i++) {
    const f = dv.getInt32(o + 4 * i, false);
    if (f < 0 || f >= nv) throw new FormatError(file, `face index ${f} out of range`, { field: 'faces', expected: `0..${nv - 1}` });
    faces[i] = f;
  }
  o += nf * 12;
  let cras: [number, number, number] | undefined;
  if (o < b.byteLength) {
    const footer = new TextDecoder('latin1').decode(b.subarray(o));
    const m = /cras\s*=\s*(\S+)\s+(\S+)\s+(\S+)/.exec(footer);
    if (m) cras = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  return { vertices, faces, vertexCount: nv, cras };
}

export interface FsAnnot {
  /** Per vertex: index into names/colors, or -1 where the annotation value is not in the table. */
  labels: Int32Array;
  names: string[];
  /** [r, g, b] per table entry, 0-255. */
  colors: Array<[number, number, number]>;
}

export async function readFsAnnot(src: ByteSource): Promise<FsAnnot> {
  const file = sourceName(src);
  const b = await readAll(src);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  const i32 = (what: string) => {
    if (o + 4 > b.byteLength) throw new FormatError(file, `file ends while reading ${what}`, { field: what });
    const v = dv.getInt32(o, false);
    o += 4;
    return v;
  };
  const str = (what: string) => {
    const n = i32(`${what} length`);
    if (n < 0 || o + n > b.byteLength) throw new FormatError(file, `bad string length ${n}`, { field: what });
    const s = new TextDecoder('latin1').decode(b.subarray(o, o + n)).replace(/\0+$/, '');
    o += n;
    return s;
  };
  const nv = i32('vertex count');
  // each vertex takes 8 bytes: a count the file cannot hold is refused before allocating for it
  if (nv < 0 || o + nv * 8 > b.byteLength) {
    throw new FormatError(file, `vertex count ${nv} does not fit in ${b.byteLength} bytes`, { field: 'vertex count', expected: `at most ${Math.floor((b.byteLength - o) / 8)}` });
  }
  const values = new Int32Array(nv);
  for (let k = 0; k < nv; k++) {
    const vno = i32('vertex number');
    const v = i32('annotation value');
    if (vno < 0 || vno >= nv) throw new FormatError(file, `vertex ${vno} out of range`, { field: 'vertices', expected: `0..${nv - 1}` });
    values[vno] = v;
  }
  const names: string[] = [];
  const colors: Array<[number, number, number]> = [];
  const packed: number[] = [];
  if (o < b.byteLength && i32('colortable tag')) {
    const first = i32('colortable version');
    if (first > 0) {
      str('colortable file name');
      for (let k = 0; k < first; k++) {
        names.push(str('structure name'));
        const rgb: [number, number, number] = [i32('r'), i32('g'), i32('b')];
        i32('t');
        colors.push(rgb);
        packed.push(rgb[0] + rgb[1] * 256 + rgb[2] * 65536);
      }
    } else {
      if (first !== -2) throw new FormatError(file, `colortable version ${first}`, { field: 'colortable', expected: '-2 or an old-style count' });
      const max = i32('max structure');
      str('colortable file name');
      const n = i32('entries');
      const byIndex = new Map<number, { name: string; rgb: [number, number, number] }>();
      for (let k = 0; k < n; k++) {
        const idx = i32('structure index');
        const name = str('structure name');
        const rgb: [number, number, number] = [i32('r'), i32('g'), i32('b')];
        i32('t');
        byIndex.set(idx, { name, rgb });
      }
      // only the indices present, in order (looping 0..max would spin for a max of 2^31)
      for (const idx of [...byIndex.keys()].filter((i) => i >= 0 && i < max).sort((a, b) => a - b)) {
        const e = byIndex.get(idx)!;
        names.push(e.name);
        colors.push(e.rgb);
        packed.push(e.rgb[0] + e.rgb[1] * 256 + e.rgb[2] * 65536);
      }
    }
  }
  const lookup = new Map<number, number>();
  packed.forEach((p, i) => lookup.set(p, i));
  const labels = Int32Array.from(values, (v) => lookup.get(v) ?? -1);
  return { labels, names, colors };
}

export interface FsLabel {
  vertices: Int32Array;
  /** float32 [n, 3]. */
  positions: Float32Array;
  values: Float32Array;
}

export async function readFsLabel(src: ByteSource): Promise<FsLabel> {
  const file = sourceName(src);
  const lines = new TextDecoder().decode(await readAll(src)).split('\n');
  const n = Number(lines[1]?.trim());
  if (!Number.isInteger(n) || n < 0) throw new FormatError(file, 'line 2 is not a vertex count', { field: 'count', expected: 'an integer' });
  if (n > lines.length - 2) throw new FormatError(file, `line 2 announces ${n} vertices but the file has ${Math.max(0, lines.length - 2)} more lines`, { field: 'count', expected: `at most ${Math.max(0, lines.length - 2)}` });
  const vertices = new Int32Array(n);
  const positions = new Float32Array(n * 3);
  const values = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const parts = (lines[2 + k] ?? '').trim().split(/\s+/).map(Number);
    if (parts.length < 5 || parts.some((x) => Number.isNaN(x))) {
      throw new FormatError(file, `line ${3 + k} is malformed`, { field: `label line ${3 + k}`, expected: 'vno x y z value' });
    }
    vertices[k] = parts[0];
    positions.set(parts.slice(1, 4), 3 * k);
    values[k] = parts[4];
  }
  return { vertices, positions, values };
}

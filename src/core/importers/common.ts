// Shared plumbing of the importers: how they reach input files (a FileTree the CLI backs with the
// disk and the page with a directory of Files), how an existing bundle is carried into a new one
// unchanged, and small image helpers.
import type { ByteSource } from '../formats/byteSource.ts';
import { FormatError } from '../formats/errors.ts';
import { MANIFEST_FILE, type Manifest } from '../bundle/manifest.ts';
import { parseManifestBytes } from '../bundle/validate.ts';
import type { BundleWriter, ManifestBody } from '../bundle/writer.ts';

/** Input files addressed by relative ('/'-separated) paths under some root. */
export interface FileTree {
  /** Shown in messages, e.g. the root folder. */
  readonly label: string;
  /** The file, or null when it does not exist. */
  open(path: string): Promise<ByteSource | null>;
  /** Names (not paths) of the entries of a folder; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
}

export type ImportProgress = (done: number, total: number, label?: string) => void;

export interface ImportContext {
  signal?: AbortSignal;
  onProgress?: ImportProgress;
  /** Called with each input file the import read, for the provenance (the CLI hashes them). */
  onSource?: (path: string) => void;
}

export async function mustOpen(tree: FileTree, path: string, what: string, ctx?: ImportContext): Promise<ByteSource> {
  const src = await tree.open(path);
  if (!src) throw new FormatError(`${tree.label}/${path}`, `${what} not found`, { expected: `the file ${path} under ${tree.label}` });
  ctx?.onSource?.(path);
  return src;
}

export function subjectDir(subject: number): string {
  return `subj${String(subject).padStart(2, '0')}`;
}

/** An existing bundle read back for extension: its manifest and a reader of its shard files. */
export interface ExistingBundle {
  manifest: Manifest;
  readShard(path: string): Promise<Uint8Array>;
}

export async function readExistingBundle(tree: FileTree): Promise<ExistingBundle> {
  const src = await tree.open(MANIFEST_FILE);
  if (!src) throw new FormatError(`${tree.label}/${MANIFEST_FILE}`, 'no bundle here', { expected: 'a bundle folder (run `mirage import nsd-imagery` first)' });
  const manifest = parseManifestBytes(await src.read(0, src.size), `${tree.label}/${MANIFEST_FILE}`);
  return {
    manifest,
    async readShard(path) {
      const s = await tree.open(path);
      if (!s) throw new FormatError(`${tree.label}/${path}`, 'shard listed in the manifest is missing');
      return s.read(0, s.size);
    },
  };
}

/**
 * Copies every shard of `old` into `writer` at offset 0 of the same path, so all of the old
 * manifest's TensorRefs stay valid, and returns the manifest body to extend. Shards in `drop`
 * are left out (e.g. the heads being replaced).
 */
export async function carryBundle(writer: BundleWriter, old: ExistingBundle, drop: (path: string) => boolean = () => false): Promise<ManifestBody> {
  for (const shard of old.manifest.shards) {
    if (drop(shard.path)) continue;
    const bytes = await old.readShard(shard.path);
    const ref = writer.addTensor(shard.path, bytes, 'uint8', [bytes.byteLength]);
    if (ref.offset !== 0) throw new Error(`carryBundle: ${shard.path} did not start at offset 0`);
    await writer.closeShard(shard.path);
  }
  const { format: _f, version: _v, shards: _s, ...body } = old.manifest;
  void _f;
  void _v;
  void _s;
  return structuredClone(body);
}

/** float [3, H, W] in [0, 1] (or [0, 255] when `scale255`) -> uint8 [size, size, 3], bilinear resize. */
export function chwToHwcUint8(src: ArrayLike<number>, h: number, w: number, size: number, scale255 = false): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  const k = scale255 ? 1 : 255;
  const sy = h / size;
  const sx = w / size;
  for (let y = 0; y < size; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const base = c * h * w;
        const v =
          (1 - wy) * ((1 - wx) * src[base + y0 * w + x0] + wx * src[base + y0 * w + x1]) +
          wy * ((1 - wx) * src[base + y1 * w + x0] + wx * src[base + y1 * w + x1]);
        out[(y * size + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(v * k)));
      }
    }
  }
  return out;
}

/** uint8 [h, w, 3] -> float [3, h, w] in [0, 1] (to reuse chwToHwcUint8 for resizing PNGs). */
export function hwcToChw(rgb: Uint8Array, h: number, w: number): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) out[c * h * w + i] = rgb[3 * i + c] / 255;
  return out;
}

export const ROI_PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe', '#008080', '#e6beff', '#9a6324', '#800000', '#808000', '#000075'];

// `mirage import recons`: reconstructions published by a method (MIRAGE's `*_all_recons_*.pt`
// tensors (N, reps, 3, H, W) in [0, 1], or a tree of PNGs, plus optional captions) added to a bundle
// as a ReconstructionSet, so the explorer can show and score methods side by side without running
// any generative model. Images are resized (bilinear) to the bundle's imageSize.
import type { ReconstructionSet } from '../bundle/manifest.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import type { BundleWriter, ManifestBody } from '../bundle/writer.ts';
import { sourceName, type ByteSource } from '../formats/byteSource.ts';
import { FormatError } from '../formats/errors.ts';
import { loadTorch, tensorRows, TorchTensor } from '../formats/torch.ts';
import { decodePng, pngToRgb } from '../tensor/png.ts';
import { assertFinite, UNIT_PIXEL_RANGE } from '../tensor/finite.ts';
import { carryBundle, chwToHwcUint8, hwcToChw, subjectDir, type ExistingBundle, type ImportContext } from './common.ts';

export type ReconInput =
  | { kind: 'pt'; source: ByteSource }
  | { kind: 'pngs'; files: Array<{ stimulus: number; rep: number; source: ByteSource }> };

export interface ReconsOptions extends ImportContext {
  existing: ExistingBundle;
  writer: BundleWriter;
  method: string;
  subject: number;
  condition: 'vision' | 'imagery';
  input: ReconInput;
  /** Stimulus ids of the rows (default 0..N-1). */
  stimuli?: number[];
  /** Per stimulus, per repetition (or one caption per stimulus). */
  captions?: string[][];
  /** Where the reconstructions come from (a citation or URL), stored in the set. */
  source: string;
  command: string;
  sources?: ManifestBody['provenance']['sources'];
}

export function reconShardPath(method: string, subject: number, condition: string): string {
  return `recons/${subjectDir(subject)}-${condition}-${method.replace(/[^A-Za-z0-9._-]+/g, '_')}.bin`;
}

/** Parses a caption file: JSON (list of lists, or list of strings) or plain text (one line per stimulus). */
export function parseCaptions(text: string, file: string): string[][] {
  const t = text.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new FormatError(file, 'invalid JSON', { expected: 'a JSON list of captions', cause: e });
    }
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).map((c) => [c]);
    if (Array.isArray(v) && v.every((x) => Array.isArray(x) && x.every((y) => typeof y === 'string'))) return v as string[][];
    throw new FormatError(file, 'unexpected caption structure', { expected: 'a list of strings or a list of lists of strings' });
  }
  return t.split(/\r?\n/).map((l) => [l]);
}

export async function importRecons(opts: ReconsOptions): Promise<{ body: ManifestBody; warnings: string[] }> {
  const { writer, existing, subject, method, condition } = opts;
  const warnings: string[] = [];
  const shard = reconShardPath(method, subject, condition);
  const body = await carryBundle(writer, existing, (p) => p === shard);
  if (!body.subjects.some((s) => s.id === subject)) {
    warnings.push(`the bundle has no subject ${subject}; the reconstructions are stored but cannot be compared with its trials`);
  }
  const size = body.imageSize;
  let n: number;
  let reps: number;
  let images: ReconstructionSet['images'];
  if (opts.input.kind === 'pt') {
    const { root, file } = await loadTorch(opts.input.source);
    const t = root instanceof TorchTensor ? root : null;
    if (!t || t.shape.length !== 5 || t.shape[2] !== 3) {
      throw new FormatError(file, `expected one tensor of shape (N, reps, 3, H, W), found ${t ? `[${t.shape}]` : 'something else'}`, { field: 'data.pkl', expected: '(N, reps, 3, H, W) in [0, 1]' });
    }
    [n, reps] = t.shape;
    const [, , , h, w] = t.shape;
    const out = new Uint8Array(n * reps * size * size * 3);
    // Rows of a loaded tensor and PNG decodes are synchronous work: yield so Ctrl-C is heard.
    const tick = yieldEvery(YIELD_MS, opts.signal);
    for (let i = 0; i < n; i++) {
      await tick();
      const row = await tensorRows(t, i, 1);
      // NaN or 1e30 pixels would silently become black or white images: refused with their index.
      if (t.dtype !== 'uint8') assertFinite(file, 'reconstructions', row, { shape: t.shape, offset: i * row.length, range: UNIT_PIXEL_RANGE, noun: 'pixel', expected: 'pixel values in [0, 1]' });
      for (let r = 0; r < reps; r++) {
        out.set(chwToHwcUint8(row.subarray(r * 3 * h * w, (r + 1) * 3 * h * w), h, w, size, t.dtype === 'uint8'), (i * reps + r) * size * size * 3);
      }
      opts.onProgress?.(i + 1, n, 'reconstructions');
    }
    images = writer.addTensor(shard, out, 'uint8', [n, reps, size, size, 3]);
  } else {
    const files = opts.input.files;
    if (!files.length) throw new FormatError(method, 'no PNG files', { expected: 'files named <stimulus>/<rep>.png or <stimulus>_<rep>.png' });
    const stimIds = [...new Set(files.map((f) => f.stimulus))].sort((a, b) => a - b);
    n = stimIds.length;
    reps = Math.max(...files.map((f) => f.rep)) + 1;
    const out = new Uint8Array(n * reps * size * size * 3);
    const have = new Set<string>();
    const tick = yieldEvery(YIELD_MS, opts.signal);
    for (const [k, f] of files.entries()) {
      await tick();
      const png = decodePng(await f.source.read(0, f.source.size), sourceName(f.source));
      const i = stimIds.indexOf(f.stimulus);
      out.set(chwToHwcUint8(hwcToChw(pngToRgb(png), png.height, png.width), png.height, png.width, size), (i * reps + f.rep) * size * size * 3);
      have.add(`${f.stimulus}/${f.rep}`);
      opts.onProgress?.(k + 1, files.length, 'reconstructions');
    }
    for (const s of stimIds) for (let r = 0; r < reps; r++) if (!have.has(`${s}/${r}`)) throw new FormatError(method, `no image for stimulus ${s}, repetition ${r}`, { expected: `${reps} repetitions of every stimulus` });
    images = writer.addTensor(shard, out, 'uint8', [n, reps, size, size, 3]);
    opts.stimuli ??= stimIds;
  }
  const stimuli = opts.stimuli ?? Array.from({ length: n }, (_, i) => i);
  if (stimuli.length !== n) throw new FormatError(method, `${stimuli.length} stimulus ids for ${n} rows`, { field: 'stimuli', expected: `${n} ids` });
  const set: ReconstructionSet = { method, subject, condition, stimuli, images, source: opts.source };
  if (opts.captions) {
    if (opts.captions.length !== n) throw new FormatError(method, `${opts.captions.length} caption entries for ${n} stimuli`, { field: 'captions', expected: `${n} entries` });
    set.captions = opts.captions;
  }
  await writer.closeShard(shard);
  body.reconstructions = [...(body.reconstructions ?? []).filter((r) => !(r.method === method && r.subject === subject && r.condition === condition)), set];
  body.provenance = { ...body.provenance, command: `${body.provenance.command} && ${opts.command}`, sources: [...body.provenance.sources, ...(opts.sources ?? [])] };
  return { body, warnings };
}

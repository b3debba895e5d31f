// `mirage import mirage-weights`: MIRAGE's ridge pickles ({'coef': (out_dim, nvox), 'intercept'})
// -> reduced-rank float16 heads added to an existing subject bundle. Each coef matrix stays on disk
// (lazy pickle bytes) and is read a block of output rows at a time by the blockwise randomized SVD,
// so memory does not grow with the head's size (docs/background.md §3: ~11 billion weights for subject 1).
import { AbortError } from '../base/errors.ts';
import type { Head, HeadName, Subject } from '../bundle/manifest.ts';
import type { BundleWriter, ManifestBody } from '../bundle/writer.ts';
import { randomizedSvd, randomizedSvdOfTranspose, type GemmKernel, type RowBlockSource } from '../decode/randomizedSvd.ts';
import { addHead, headShardPath } from '../decode/headBuilder.ts';
import { decodeFloat16 } from '../tensor/float16.ts';
import { matrix, type Matrix } from '../tensor/matrix.ts';
import { readNpy } from '../tensor/npy.ts';
import { assertFinite } from '../tensor/finite.ts';
import { Rng } from '../base/rng.ts';
import { sourceName, type ByteSource } from '../formats/byteSource.ts';
import { FormatError } from '../formats/errors.ts';
import { dictGet, NdArray, ndarrayValues, readRows, unpickle, type PyValue } from '../formats/pickle.ts';
import { carryBundle, type ExistingBundle, type ImportContext } from './common.ts';

/** MIRAGE's five heads (docs/background.md §3): logical output shape, role, input/output normalisation. */
export const MIRAGE_HEADS: Record<HeadName, { outputShape: number[]; role: string; inputNorm: Head['inputNorm']; outputNorm: Head['outputNorm'] }> = {
  image: { outputShape: [768], role: 'CLIP ViT-L/14 image embedding (CLS, projected)', inputNorm: 'none', outputNorm: 'none' },
  text: { outputShape: [77, 1280], role: 'CLIP ViT-bigG/14 text encoder last hidden state (long synthetic caption)', inputNorm: 'none', outputNorm: 'none' },
  blurry: { outputShape: [91168], role: 'VDVAE latents of the 64x64 image, first 31 layers', inputNorm: 'none', outputNorm: 'none' },
  retrieval: { outputShape: [257, 1024], role: 'CLIP ViT-L/14 last hidden state, tokens L2-normalised', inputNorm: 'l2', outputNorm: 'l2-token' },
  prompt: { outputShape: [257, 1024], role: 'GiT-large-coco image-encoder features', inputNorm: 'none', outputNorm: 'none' },
};

export interface HeadFiles {
  head: HeadName;
  pickle: ByteSource;
  targetMean?: ByteSource;
  targetStd?: ByteSource;
}

/** Where finished heads are kept between runs (the CLI backs it with a folder), so a long import resumes. */
export interface HeadCache {
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

export interface MirageWeightsOptions extends ImportContext {
  existing: ExistingBundle;
  writer: BundleWriter;
  subject: number;
  rank: number;
  heads: HeadFiles[];
  /** Ridge penalty the weights were fitted with (MIRAGE: 100000). */
  penalty?: number;
  penaltySource?: string;
  /** Trials used for the fidelity figure (default 64, taken from the bundle's trials). */
  fidelityTrials?: number;
  /** Most power iterations per head (default 1). */
  powerIterations?: number;
  /** Stop a head's power iterations once its fidelity R² reaches this (randomizedSvd's fidelityTarget). */
  fidelityTarget?: number;
  oversample?: number;
  /** Block products (default plain JS; the CLI hands in tfjs-wasm, importers/wasmGemm.ts). */
  kernel?: GemmKernel;
  cache?: HeadCache;
  /** Pickle byte strings longer than this stay on disk (default 1 MiB; MIRAGE's 257x1024 intercepts are past it). */
  lazyBytes?: number;
  /** Told when each head is done, with its wall and CPU seconds (the full-scale benchmark records them). */
  onHead?: (head: HeadName, info: { seconds: number; cpuSeconds: number; cached: boolean }) => void;
  /** Appended to the bundle's provenance command. */
  command: string;
  /** Files to add to provenance.sources (already hashed by the caller). */
  sources?: ManifestBody['provenance']['sources'];
}

/** Process CPU seconds where the runtime tells them (Node), else NaN (browsers). */
function cpuSeconds(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  const u = p?.cpuUsage?.();
  return u ? (u.user + u.system) / 1e6 : NaN;
}

function l2Rows(X: Matrix<Float32Array>): Matrix<Float32Array> {
  const out = new Float32Array(X.data.length);
  for (let i = 0; i < X.rows; i++) {
    let ss = 0;
    for (let j = 0; j < X.cols; j++) ss += X.data[i * X.cols + j] ** 2;
    const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < X.cols; j++) out[i * X.cols + j] = X.data[i * X.cols + j] * s;
  }
  return matrix(X.rows, X.cols, out);
}

/** Up to n trials of the subject from the bundle (imagery first), or N(0,1) betas when it has none. */
async function fidelityTrials(existing: ExistingBundle, subj: Subject, n: number): Promise<{ X: Matrix<Float32Array>; description: string }> {
  const trials = existing.manifest.trials.filter((t) => t.subject === subj.id);
  trials.sort((a, b) => Number(b.condition === 'imagery') - Number(a.condition === 'imagery'));
  const chosen = trials.slice(0, n);
  const p = subj.voxelCount;
  if (chosen.length >= 2) {
    const X = new Float32Array(chosen.length * p);
    const shards = new Map<string, Uint8Array>();
    const bytes = subj.betaDtype === 'float16' ? 2 : 4;
    for (const [i, t] of chosen.entries()) {
      let sh = shards.get(t.betas.shard);
      if (!sh) shards.set(t.betas.shard, (sh = await existing.readShard(t.betas.shard)));
      const raw = sh.slice(t.betas.offset, t.betas.offset + p * bytes);
      X.set(bytes === 2 ? decodeFloat16(new Uint16Array(raw.buffer)) : new Float32Array(raw.buffer), i * p);
    }
    const nImg = chosen.filter((t) => t.condition === 'imagery').length;
    return { X: matrix(chosen.length, p, X), description: `${chosen.length} trials of this bundle (${nImg} imagery), compressed vs full-rank predictions` };
  }
  const rng = new Rng(7);
  const X = Float32Array.from({ length: n * p }, () => rng.normal());
  return { X: matrix(n, p, X), description: `${n} synthetic N(0,1) beta vectors (the bundle has no trials of this subject)` };
}

function arrayOf(v: PyValue, file: string, field: string): NdArray {
  if (v instanceof NdArray) return v;
  throw new FormatError(file, `${field} is not a numpy array`, { field, expected: 'a numpy array' });
}

async function readVector(src: ByteSource, n: number, what: string): Promise<Float32Array> {
  const file = sourceName(src);
  const a = readNpy(await src.read(0, src.size), file);
  if (a.shape.reduce((x, y) => x * y, 1) !== n) throw new FormatError(file, `${what} has shape [${a.shape}]`, { field: what, expected: `${n} values (one per output)` });
  assertFinite(file, what, a.data, { shape: a.shape });
  return Float32Array.from(a.data as ArrayLike<number>);
}

function encodeCached(A: Matrix<Float32Array>, B: Matrix<Float32Array>, meta: object): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify({ ...meta, p: A.rows, r: A.cols, q: B.cols }));
  const out = new Uint8Array(4 + head.length + (pad4(head.length) - head.length) + 4 * (A.data.length + B.data.length));
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  const o = 4 + pad4(head.length);
  out.set(new Uint8Array(A.data.buffer, A.data.byteOffset, A.data.byteLength), o);
  out.set(new Uint8Array(B.data.buffer, B.data.byteOffset, B.data.byteLength), o + A.data.byteLength);
  return out;
}
function pad4(n: number): number {
  return (n + 3) & ~3;
}
function decodeCached(b: Uint8Array): { A: Matrix<Float32Array>; B: Matrix<Float32Array>; meta: { fidelityR2: number; trials: number; description: string } } {
  const len = new DataView(b.buffer, b.byteOffset).getUint32(0, true);
  const meta = JSON.parse(new TextDecoder().decode(b.subarray(4, 4 + len)));
  const o = 4 + pad4(len);
  const buf = b.slice(o).buffer;
  const A = new Float32Array(buf, 0, meta.p * meta.r);
  const B = new Float32Array(buf, meta.p * meta.r * 4, meta.r * meta.q);
  return { A: matrix(meta.p, meta.r, A), B: matrix(meta.r, meta.q, B), meta };
}

export async function importMirageWeights(opts: MirageWeightsOptions): Promise<{ body: ManifestBody; warnings: string[] }> {
  const { writer, existing, subject, rank } = opts;
  const warnings: string[] = [];
  const names = new Set(opts.heads.map((h) => h.head));
  const body = await carryBundle(writer, existing, (path) => [...names].some((n) => path === headShardPath(subject, n)));
  const subj = body.subjects.find((s) => s.id === subject);
  if (!subj) throw new FormatError('manifest.json', `no subject ${subject} in the bundle`, { field: 'subjects', expected: `one of ${body.subjects.map((s) => s.id).join(', ')}` });
  const nvox = subj.voxelCount;
  const fid = await fidelityTrials(existing, subj, opts.fidelityTrials ?? 64);
  const total = opts.heads.length;
  for (const [k, hf] of opts.heads.entries()) {
    if (opts.signal?.aborted) throw new AbortError();
    const file = sourceName(hf.pickle);
    const d = await unpickle(hf.pickle, { lazyBytes: opts.lazyBytes ?? 1 << 20 });
    const coef = arrayOf(dictGet(d, 'coef', file), file, 'coef');
    if (coef.shape.length !== 2) throw new FormatError(file, `coef has shape [${coef.shape}]`, { field: 'coef', expected: '(out_dim, nvox)' });
    const [q, p] = coef.shape;
    if (p !== nvox) {
      throw new FormatError(file, `coef has ${p} voxels (shape [${coef.shape}]) but subject ${subject}'s mask has ${nvox}`, { field: 'coef', expected: `(out_dim, ${nvox})` });
    }
    const interceptV = dictGet(d, 'intercept', file);
    const intercept = new Float32Array(q);
    if (interceptV instanceof NdArray) {
      // MIRAGE's 257x1024 intercepts (1 MiB) are past the lazy threshold: read them from disk
      const v = await ndarrayValues(interceptV);
      assertFinite(file, 'intercept', v, { shape: interceptV.shape });
      if (v.length === 1) intercept.fill(v[0]);
      else if (v.length === q) intercept.set(v);
      else throw new FormatError(file, `intercept has ${v.length} values`, { field: 'intercept', expected: `${q} (one per output)` });
    } else if (typeof interceptV === 'number') {
      assertFinite(file, 'intercept', [interceptV]);
      intercept.fill(interceptV);
    }
    else throw new FormatError(file, 'intercept is neither an array nor a number', { field: 'intercept', expected: `${q} values` });
    const known = MIRAGE_HEADS[hf.head];
    const outputShape = known.outputShape.reduce((a, b) => a * b, 1) === q ? known.outputShape : [q];
    if (outputShape !== known.outputShape) warnings.push(`${file}: ${q} outputs, not MIRAGE's [${known.outputShape}] for the ${hf.head} head; stored as [${q}]`);
    const X = known.inputNorm === 'l2' ? l2Rows(fid.X) : fid.X;
    const key = `subj${subject}-${hf.head}-r${rank}-${hf.pickle.size}`;
    let A: Matrix<Float32Array>, B: Matrix<Float32Array>, r2: number, trials: number, description: string;
    const t0 = performance.now();
    const cpu0 = cpuSeconds();
    const cached = opts.cache ? await opts.cache.get(key) : null;
    if (cached) {
      const c = decodeCached(cached);
      ({ A, B } = c);
      ({ fidelityR2: r2, trials, description } = c.meta);
      warnings.push(`${hf.head}: reused the factors computed by an earlier, interrupted run (cache key ${key})`);
    } else {
      // sklearn's Ridge leaves coef_ Fortran-ordered: then the voxel rows of coefᵀ are what is contiguous
      const fortran = coef.fortranOrder;
      const asCoefT = new NdArray(coef.dtype, [p, q], false, coef.data);
      // Every block is checked as it is read: one NaN weight would make the whole head NaN.
      const checked = (arr: NdArray, name: string, cols: number, shape: number[]) => async (s: number, c: number) => {
        const block = await readRows(arr, s, c);
        assertFinite(file, name, block, { shape, offset: s * cols });
        return block;
      };
      const W: RowBlockSource = fortran
        ? { rows: p, cols: q, readRows: checked(asCoefT, 'coef (Fortran order: voxel, output)', q, [p, q]) }
        : { rows: q, cols: p, readRows: checked(coef, 'coef', p, coef.shape) };
      const res = await (fortran ? randomizedSvdOfTranspose : randomizedSvd)(W, {
        rank,
        fidelityX: X,
        powerIterations: opts.powerIterations,
        fidelityTarget: opts.fidelityTarget,
        oversample: opts.oversample,
        kernel: opts.kernel,
        signal: opts.signal,
        onProgress: (dn, tt, label) => opts.onProgress?.(k * tt + dn, total * tt, `${hf.head}: ${label}`),
      });
      ({ A, B } = res);
      r2 = res.fidelityR2;
      trials = res.fidelityTrials;
      description = `${fid.description}; randomized SVD, ${res.passes} passes (${res.powerIterations} power iterations), float16 factors`;
      await opts.cache?.put(key, encodeCached(A, B, { fidelityR2: r2, trials, description }));
    }
    opts.onHead?.(hf.head, { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds() - cpu0, cached: !!cached });
    const targetMean = hf.targetMean ? await readVector(hf.targetMean, q, 'target mean') : undefined;
    const targetStd = hf.targetStd ? await readVector(hf.targetStd, q, 'target std') : undefined;
    const head = addHead(writer, subject, {
      name: hf.head,
      role: known.role,
      outputShape,
      A,
      B,
      intercept,
      targetMean,
      targetStd,
      inputNorm: known.inputNorm,
      outputNorm: known.outputNorm,
      penalty: opts.penalty ?? 100000,
      penaltySource: opts.penaltySource ?? 'MIRAGE: grid search on held-out subjects 3, 4, 6, 8 for imagery performance (docs/background.md §3)',
      fidelity: { r2: Number.isFinite(r2) ? r2 : 0, trials, description },
    });
    subj.heads = [...subj.heads.filter((h) => h.name !== hf.head), head];
    await writer.closeShard(headShardPath(subject, hf.head));
    if (!targetMean || !targetStd) warnings.push(`${hf.head}: no training-target mean/std given: MIRAGE's prediction normalisation cannot be applied`);
  }
  const order = Object.keys(MIRAGE_HEADS);
  subj.heads.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  body.provenance = {
    ...body.provenance,
    command: `${body.provenance.command} && ${opts.command}`,
    sources: [...body.provenance.sources, ...(opts.sources ?? [])],
  };
  return { body, warnings };
}

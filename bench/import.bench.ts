// Import at NSD's real size, synthetic inputs generated on the fly (nothing large is committed):
//  1. The randomized SVD's block products (one power iteration on one production block, 533 x 15724,
//     k = 74) on every kernel candidate in the same run: the float64 JS kernels used before, the
//     float32 JS tiles, onnxruntime-web wasm, tfjs-wasm (XNNPACK). GFLOP/s; the fastest is used below.
//  2. `import nsd-imagery` of a synthetic subject: 81x104x83 func1pt8mm volume (subject 1's grid),
//     15724 nsdgeneral voxels, 720 trials as a gzipped int16 4-D NIfTI, FreeSurfer surfaces of
//     ~126k vertices: wall time and peak RSS (gunzip, masking, z-scoring, voxel->vertex, hashing, validation).
//  3. MIRAGE's image head at its real shape (768 x 15724) with 1 and 0 power iterations.
//  4. Fidelity (R² compressed vs full predictions, float16 factors) against rank, 0 and 1 power
//     iterations, on a synthetic head with a power-law spectrum plus a noise floor.
// With IMPORT_FULL=1 it instead runs the whole of subject 1 (five heads, 11.3e9 weights) through
// `import mirage-weights` (runMirageWeights) and writes bench/results/import-full.json:
//   IMPORT_FULL=1 nice -n 10 node bin/mirage.js bench import
//   (IMPORT_FULL_HEADS=image,blurry  IMPORT_FULL_RANK=64  IMPORT_FULL_POWER=1  IMPORT_FULL_GEMM=tfjs-wasm)
// IMPORT_KERNELS=1 runs only part 1 (bench/results/import-kernels.json).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Gzip } from 'fflate';
import { fsTree } from '../src/node/files.ts';
import { gemmKernel, runImport, runMirageWeights, type GemmName } from '../src/node/importRun.ts';
import type { HeadName } from '../src/core/bundle/manifest.ts';
import { blockProducts, blockProductsReference, jsGemmKernel, randomizedSvd, type GemmKernel, type RowBlockSource } from '../src/core/decode/randomizedSvd.ts';
import type { ByteSource } from '../src/core/formats/byteSource.ts';
import { importNsdImagery, NSD_PATHS } from '../src/core/importers/nsdImagery.ts';
import { Rng } from '../src/core/base/rng.ts';
import { matrix } from '../src/core/tensor/matrix.ts';
import { RESULTS_DIR, type BenchContext } from './lib.ts';

const SHAPE = [81, 104, 83];
const NVOX = 15724;
const HEADS: Array<[string, number]> = [['image', 768], ['text', 77 * 1280], ['blurry', 91168], ['retrieval', 257 * 1024], ['prompt', 257 * 1024]];
const RUNS = ['visA', 'visB', 'visC', 'imgA_1', 'imgA_2', 'imgB_1', 'imgB_2', 'imgC_1', 'imgC_2', 'attA', 'attB', 'attC'];

const peakRssMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

function niftiHeader(dims: number[], datatype: number, bitpix: number): Uint8Array {
  const h = new Uint8Array(352);
  const dv = new DataView(h.buffer);
  dv.setInt32(0, 348, true);
  dv.setInt16(40, dims.length, true);
  dims.forEach((d, i) => dv.setInt16(42 + 2 * i, d, true));
  dv.setInt16(70, datatype, true);
  dv.setInt16(72, bitpix, true);
  [1, 1.8, 1.8, 1.8, 1].forEach((v, i) => dv.setFloat32(76 + 4 * i, v, true));
  dv.setFloat32(108, 352, true);
  dv.setInt16(254, 1, true); // sform
  [1.8, 0, 0, -72, 0, 1.8, 0, -93, 0, 0, 1.8, -74].forEach((v, i) => dv.setFloat32(280 + 4 * i, v, true));
  h.set([0x6e, 0x2b, 0x31, 0], 344);
  return h;
}

/** Streams volumes through fflate's Gzip into a file. */
function writeNiftiGz(path: string, header: Uint8Array, volumes: number, volume: (t: number) => Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  const gz = new Gzip({ level: 1 }, (chunk) => writeSync(fd, chunk));
  gz.push(header);
  for (let t = 0; t < volumes; t++) gz.push(volume(t), t === volumes - 1);
  closeSync(fd);
}

/** A protocol-2 pickle of {'exps': [...], 'cues': [...], 'image_map': {...}} (bench-only writer). */
function pickleMeta(exps: string[], cues: string[], map: Record<string, number>): Uint8Array {
  const out: number[] = [0x80, 2, 0x7d, 0x28];
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    out.push(0x58, b.length & 255, (b.length >> 8) & 255, 0, 0, ...b);
  };
  const list = (xs: string[]) => {
    out.push(0x5d, 0x28);
    xs.forEach(str);
    out.push(0x65);
  };
  str('exps');
  list(exps);
  str('cues');
  list(cues);
  str('image_map');
  out.push(0x7d, 0x28);
  for (const [k, v] of Object.entries(map)) {
    str(k);
    out.push(0x4b, v);
  }
  out.push(0x75, 0x75, 0x2e);
  return Uint8Array.from(out);
}

function fsSurface(vertices: Float32Array, faces: Int32Array): Uint8Array {
  const head = new TextEncoder().encode('created by bench\n\n');
  const b = new Uint8Array(3 + head.length + 8 + vertices.length * 4 + faces.length * 4);
  const dv = new DataView(b.buffer);
  b.set([0xff, 0xff, 0xfe], 0);
  b.set(head, 3);
  let o = 3 + head.length;
  dv.setInt32(o, vertices.length / 3, false);
  dv.setInt32(o + 4, faces.length / 3, false);
  o += 8;
  for (const v of vertices) {
    dv.setFloat32(o, v, false);
    o += 4;
  }
  for (const f of faces) {
    dv.setInt32(o, f, false);
    o += 4;
  }
  return b;
}

async function benchNsdImagery(ctx: BenchContext, trials: number, keep = false, root = join(tmpdir(), `mirage-bench-nsd-${process.pid}`)) {
  rmSync(root, { recursive: true, force: true });
  const rng = new Rng(42);
  const [nx, ny, nz] = SHAPE;
  const n = nx * ny * nz;
  // mask: the first NVOX voxels of a central box, in numpy (x, y, z) C order
  const mask = new Int16Array(n);
  const maskIdx: number[] = [];
  outer: for (let x = 25; x < 75; x++)
    for (let y = 30; y < 60; y++)
      for (let z = 30; z < 41; z++) {
        const i = x + nx * (y + ny * z);
        mask[i] = 1;
        maskIdx.push(i);
        if (maskIdx.length === NVOX) break outer;
      }
  const s = 'subj01';
  const t0 = performance.now();
  writeNiftiGz(join(root, NSD_PATHS.mask(s)), niftiHeader([...SHAPE], 4, 16), 1, () => new Uint8Array(mask.buffer));
  const vol = new Int16Array(n);
  writeNiftiGz(join(root, NSD_PATHS.betas(s)), niftiHeader([...SHAPE, trials], 4, 16), trials, () => {
    for (const i of maskIdx) vol[i] = Math.round(rng.normal() * 600);
    return new Uint8Array(vol.buffer);
  });
  const exps: string[] = [];
  const cues: string[] = [];
  for (let t = 0; t < trials; t++) {
    const run = RUNS[Math.floor((t * RUNS.length) / trials)];
    exps.push(run);
    const set = 'ABC'.indexOf(run.startsWith('img') ? run[3] : run[3]);
    cues.push('ABCDEFGHIJKLMNOPQR'[set * 6 + (t % 6)]);
  }
  const map = Object.fromEntries([...'ABCDEFGHIJKLMNOPQR'].map((c, i) => [c, i]));
  mkdirSync(join(root, 'nsddata_stimuli/stimuli'), { recursive: true });
  writeFileSync(join(root, NSD_PATHS.stimuliPkl), pickleMeta(exps, cues, map));
  // surfaces: 8 jittered points per mask voxel centre (~126k vertices), split by x into hemispheres
  for (const hemi of ['lh', 'rh']) {
    const pts: number[] = [];
    for (const i of maskIdx) {
      const x = i % nx;
      if ((hemi === 'lh') !== (x < 50)) continue;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / (nx * ny));
      for (let k = 0; k < 8; k++) pts.push(1.8 * x - 72 + rng.normal() * 0.7, 1.8 * y - 93 + rng.normal() * 0.7, 1.8 * z - 74 + rng.normal() * 0.7);
    }
    const v = Float32Array.from(pts);
    const m = v.length / 3;
    const f = Int32Array.from({ length: m * 3 }, (_, j) => (Math.floor(j / 3) + (j % 3)) % m);
    for (const kind of ['white', 'pial']) {
      const p = join(root, NSD_PATHS.surf(s, `${hemi}.${kind}`));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, fsSurface(v, f));
    }
  }
  const genSeconds = (performance.now() - t0) / 1000;
  ctx.log(`synthetic NSD tree written in ${genSeconds.toFixed(1)} s`);
  const out = join(root, 'bundle');
  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  const m = await runImport({
    out,
    quiet: true,
    build: (writer, c) =>
      importNsdImagery({
        tree: fsTree(root),
        subject: 1,
        writer,
        provenance: { kind: 'real', command: 'bench', createdAt: new Date().toISOString(), generator: { name: 'bench', version: '0' }, sources: [], notes: 'synthetic inputs' },
        onSource: (p) => c.onSource(join(root, p)),
      }),
  });
  const seconds = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result = { cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2), voxels: m.subjects[0].voxelCount, trials: m.trials.length, volumeShape: SHAPE, surfaceVertices: m.subjects[0].surfaces.map((x) => x.vertexCount), seconds: +seconds.toFixed(2), peakRssMiB: peakRssMiB() };
  ctx.log(`import nsd-imagery: ${JSON.stringify(result)}`);
  if (!keep) rmSync(root, { recursive: true, force: true });
  return { ...result, root, bundle: out };
}

/** Synthetic ridge weights: W = (G · diag(spectrum) · H + noise) · 1e-4, any block of rows on demand. */
interface SyntheticHead extends RowBlockSource {
  /** Rows [start, start + count) into `out` (float32, row-major); deterministic per row. */
  fill(start: number, count: number, out: Float32Array): Promise<void>;
}

/**
 * Low rank + noise, built fast enough that generating never dominates. A pool of POOL rows
 * R = G·diag(spectrum)·H (H: [latent, p] Gaussian) is made once per head on the GEMM kernel; row i of
 * W is a·R[j] + noise, with a and j from a per-row seeded xorshift (a cheap PRNG), so W has rank
 * ≤ latent plus a noise floor; the noise is a window of a fixed Gaussian table at a per-row random
 * offset (full rank: windows at different offsets are different sequences). Per weight: 2 loads and
 * 1 multiply-add, no PRNG call.
 */
export async function syntheticHead(q: number, p: number, latent: number, decay: number, noise: number, seed: number, gemm: GemmName): Promise<SyntheticHead> {
  const POOL = 512;
  const TABLE = 1 << 20;
  // made on first use, so heads waiting their turn hold no memory
  let pool: { R: Float32Array; t1: Float32Array } | null = null;
  const makePool = async () => {
    const rng = new Rng(seed);
    const H = Float32Array.from({ length: latent * p }, () => rng.normal());
    const G = Float32Array.from({ length: POOL * latent }, (_, i) => rng.normal() * ((i % latent) + 1) ** -decay);
    const kernel = await gemmKernel(gemm);
    await kernel.setRight(H, latent, p);
    const R = Float32Array.from(await kernel.times(G, POOL, latent));
    kernel.dispose?.();
    // the pool's rows have mean square Σ spectrum²; the noise floor is `noise` of that, in RMS
    let ms = 0;
    for (let l = 0; l < latent; l++) ms += (l + 1) ** (-2 * decay);
    const t1 = Float32Array.from({ length: TABLE + p }, () => rng.normal() * noise * Math.sqrt(ms) * 1e-4);
    return { R, t1 };
  };
  const fill = async (start: number, count: number, out: Float32Array) => {
    pool ??= await makePool();
    const { R, t1 } = pool;
    for (let i = 0; i < count; i++) {
      let x = (Math.imul(start + i + 1, 0x9e3779b1) ^ Math.imul(seed, 0x85ebca6b)) | 1;
      const next = () => {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        return (x >>> 0) / 4294967296;
      };
      const r1 = Math.floor(next() * POOL) * p;
      // uniform(-√3, √3): unit variance, scaled to ridge-sized weights
      const a = (next() - 0.5) * 3.4641016e-4;
      const o1 = Math.floor(next() * TABLE);
      const o = i * p;
      for (let v = 0; v < p; v++) out[o + v] = a * R[r1 + v] + t1[o1 + v];
    }
  };
  return {
    rows: q,
    cols: p,
    fill,
    async readRows(start, count) {
      const out = new Float32Array(count * p);
      await fill(start, count, out);
      return out;
    },
  };
}

/**
 * A pickle of {'intercept': float32 (q,), 'coef': float32 (q, p) C order} as numpy writes it
 * (protocol 4), whose coef bytes are generated when read: the importer sees an ordinary file of
 * q·p·4 bytes and takes its own path (lazy bytes, readRows by row blocks), nothing is stored.
 */
export function syntheticPickle(name: string, head: SyntheticHead): ByteSource {
  const { rows: q, cols: p } = head;
  const out: number[] = [];
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    out.push(0x8c, b.length, ...b);
  };
  const int = (n: number) => {
    out.push(0x4a);
    for (let i = 0; i < 4; i++) out.push((n >>> (8 * i)) & 255);
  };
  const bytes8 = (n: number) => {
    out.push(0x8e);
    for (let i = 0; i < 8; i++) out.push(Math.floor(n / 2 ** (8 * i)) & 255);
  };
  // numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') + BUILD (1, shape, dtype, fortran, bytes)
  const array = (shape: number[], data: Uint8Array | null) => {
    str('numpy.core.multiarray');
    str('_reconstruct');
    out.push(0x93);
    str('numpy');
    str('ndarray');
    out.push(0x93, 0x4b, 0, 0x85, 0x43, 1, 0x62, 0x87, 0x52, 0x28, 0x4b, 1);
    out.push(0x28);
    shape.forEach(int);
    out.push(0x74);
    str('numpy');
    str('dtype');
    out.push(0x93);
    str('f4');
    out.push(0x89, 0x88, 0x87, 0x52, 0x28, 0x4b, 3);
    str('<');
    out.push(0x4e, 0x4e, 0x4e);
    int(-1);
    int(-1);
    out.push(0x4b, 0, 0x74, 0x62, 0x89);
    if (data) {
      bytes8(data.length);
      for (const x of data) out.push(x);
      out.push(0x74, 0x62);
    } else bytes8(q * p * 4);
  };
  out.push(0x80, 4, 0x7d, 0x28);
  str('intercept');
  array([q], new Uint8Array(q * 4));
  str('coef');
  array([q, p], null);
  const headBytes = Uint8Array.from(out);
  const tail = Uint8Array.from([0x74, 0x62, 0x75, 0x2e]);
  const dataStart = headBytes.length;
  const rowBytes = p * 4;
  const dataEnd = dataStart + q * rowBytes;
  const size = dataEnd + tail.length;
  let rowsBuf = new Float32Array(0);
  let whole = new Float32Array(0);
  return {
    size,
    name,
    async read(offset, length) {
      const end = Math.min(size, offset + length);
      // readRows asks for whole rows: generate straight into a reused buffer (it decodes the bytes
      // into its own array before the next read, so the view may be overwritten afterwards)
      if (offset >= dataStart && end <= dataEnd && (offset - dataStart) % rowBytes === 0 && (end - offset) % rowBytes === 0) {
        const r0 = (offset - dataStart) / rowBytes, n = (end - offset) / rowBytes;
        if (whole.length < n * p) whole = new Float32Array(n * p);
        await head.fill(r0, n, whole);
        return new Uint8Array(whole.buffer, 0, n * rowBytes);
      }
      const res = new Uint8Array(Math.max(0, end - offset));
      if (offset < dataStart) res.set(headBytes.subarray(offset, Math.min(dataStart, end)), 0);
      const d0 = Math.max(offset, dataStart), d1 = Math.min(end, dataEnd);
      if (d1 > d0) {
        const r0 = Math.floor((d0 - dataStart) / rowBytes), r1 = Math.ceil((d1 - dataStart) / rowBytes);
        if (rowsBuf.length < (r1 - r0) * p) rowsBuf = new Float32Array((r1 - r0) * p);
        await head.fill(r0, r1 - r0, rowsBuf);
        const b = new Uint8Array(rowsBuf.buffer, 0, (r1 - r0) * rowBytes);
        res.set(b.subarray(d0 - dataStart - r0 * rowBytes, d1 - dataStart - r0 * rowBytes), d0 - offset);
      }
      if (end > dataEnd) res.set(tail.subarray(Math.max(0, offset - dataEnd), end - dataEnd), Math.max(dataEnd, offset) - offset);
      return res;
    },
  };
}

/** ms → GFLOP/s */
const gflops = (flops: number, ms: number) => +(flops / ms / 1e6).toFixed(2);

/**
 * One power-iteration's products on one production block (W_b Q, then W_bᵀ T): every candidate in
 * the same run. "before" is the float64 4-row kernel the import used until now.
 */
async function kernels(ctx: BenchContext, quick: boolean) {
  const p = NVOX, k = 74;
  const count = quick ? 64 : Math.floor((32 << 20) / (4 * p));
  const rng = new Rng(1);
  const block = Float32Array.from({ length: count * p }, () => rng.normal());
  const Q64 = Float64Array.from({ length: p * k }, () => rng.normal());
  const Q32 = Float32Array.from(Q64);
  const T64 = new Float64Array(count * k);
  const Y64 = new Float64Array(p * k);
  const flops = 2 * 2 * count * p * k;
  const reps = quick ? 1 : 3;
  // wall and CPU milliseconds, best of `reps` after a warm-up; on a shared machine the CPU time of
  // this (single-threaded) process is the figure that waiting for a core does not inflate
  const best = async (fn: () => unknown, n = reps, warm = true) => {
    if (warm) await fn(); // JIT, wasm heap growth
    let ms = Infinity;
    let cpuMs = Infinity;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      await fn();
      const d = process.cpuUsage(c);
      ms = Math.min(ms, performance.now() - t);
      cpuMs = Math.min(cpuMs, (d.user + d.system) / 1000);
    }
    return { ms, cpuMs };
  };
  const results: Array<{ kernel: string; ms: number; cpuMs: number; gflops: number; gflopsCpu: number }> = [];
  const add = (kernel: string, { ms, cpuMs }: { ms: number; cpuMs: number }) => {
    results.push({ kernel, ms: +ms.toFixed(1), cpuMs: +cpuMs.toFixed(1), gflops: gflops(flops, ms), gflopsCpu: gflops(flops, cpuMs) });
    ctx.log(`kernel ${kernel}: ${ms.toFixed(1)} ms (${cpuMs.toFixed(1)} CPU ms), ${gflops(flops, ms)} GFLOP/s wall, ${gflops(flops, cpuMs)} per CPU second`);
  };
  add('js float64, one row at a time (reference)', await best(() => blockProductsReference(block, count, p, Q64, k, T64, Y64), 1, false));
  add('js float64, 4 rows at a time (before)', await best(() => blockProducts(block, count, p, Q64, k, T64, Y64)));
  const cands: Array<[GemmName, GemmKernel]> = [['js', jsGemmKernel()], ['ort-wasm', await gemmKernel('ort-wasm')], ['tfjs-wasm', await gemmKernel('tfjs-wasm')]];
  for (const [name, kern] of cands) {
    await kern.setRight(Q32, p, k);
    add(`${name}: ${kern.name}`, await best(async () => {
      const T = await kern.times(block, count, p);
      await kern.transposedTimes(block, count, p, T, k);
    }));
    kern.dispose?.();
  }
  const before = results[1];
  const fastest = results.slice(2).reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  return { block: [count, p], k, flopsPerCall: flops, what: 'W_b·Q then W_bᵀ·T (one power iteration on one block)', results, fastest: fastest.kernel, speedupOverBefore: { wall: +(before.ms / fastest.ms).toFixed(1), cpu: +(before.cpuMs / fastest.cpuMs).toFixed(1) } };
}

const HEAD_MODEL = { latent: 96, decay: 1, noise: 0.1 };

/** MIRAGE's image head at its real shape through randomizedSvd with the fastest kernel; generation timed apart. */
async function imageHead(ctx: BenchContext, quick: boolean, gemm: GemmName) {
  const rng = new Rng(9);
  const nFid = 64;
  const X = matrix(nFid, NVOX, Float32Array.from({ length: nFid * NVOX }, () => rng.normal()));
  const rank = quick ? 16 : 64;
  const q = quick ? 192 : 768;
  const src = await syntheticHead(q, NVOX, HEAD_MODEL.latent, HEAD_MODEL.decay, HEAD_MODEL.noise, 3, gemm);
  await src.readRows(0, 1); // pool + JIT warm-up
  const tg = performance.now();
  const cg = process.cpuUsage();
  const blockRows = Math.floor((32 << 20) / (4 * NVOX));
  for (let s = 0; s < q; s += blockRows) await src.readRows(s, Math.min(blockRows, q - s));
  const genPerPass = (performance.now() - tg) / 1000;
  const genCpuPerPass = ((d) => (d.user + d.system) / 1e6)(process.cpuUsage(cg));
  const out: Record<string, unknown>[] = [];
  for (const [label, opts] of [['1 power iteration', { powerIterations: 1 }], ['0 power iterations', { powerIterations: 0 }]] as const) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const res = await randomizedSvd(src, { rank, fidelityX: X, ...opts, kernel: await gemmKernel(gemm) });
    const cpu = process.cpuUsage(cpu0);
    const total = (performance.now() - t0) / 1000;
    const cpuS = (cpu.user + cpu.system) / 1e6;
    // the SVD's own share, from CPU seconds (wall time on a shared machine depends on the others)
    const svdCpu = cpuS - genCpuPerPass * res.passes;
    const r = { label, shape: [q, NVOX], rank, passes: res.passes, seconds: +total.toFixed(2), cpuSeconds: +cpuS.toFixed(2), cpuSecondsGeneratingWeights: +(genCpuPerPass * res.passes).toFixed(2), cpuSecondsSvd: +svdCpu.toFixed(2), weightsPerCpuSecond: Math.round((q * NVOX) / svdCpu), wallSecondsGeneratingOnePass: +genPerPass.toFixed(2), fidelityR2: +res.fidelityR2.toFixed(5) };
    ctx.log(`image head, ${label}: ${JSON.stringify(r)}`);
    out.push(r);
  }
  return { gemm, generator: `synthetic: ${HEAD_MODEL.latent} latent directions, singular values ∝ i^-${HEAD_MODEL.decay}, ${HEAD_MODEL.noise * 100}% noise floor`, runs: out, peakRssMiB: peakRssMiB() };
}

async function fidelityCurve(ctx: BenchContext, quick: boolean, gemm: GemmName) {
  const rng = new Rng(9);
  const nFid = 64;
  const X = matrix(nFid, NVOX, Float32Array.from({ length: nFid * NVOX }, () => rng.normal()));
  const ranks = quick ? [4, 16, 32] : [8, 16, 32, 64, 128, 256];
  const q = quick ? 192 : 768;
  const src = await syntheticHead(q, NVOX, 512, 0.75, 0.2, 5, gemm);
  const curve: Array<{ rank: number; powerIterations: number; r2: number; seconds: number }> = [];
  for (const powerIterations of [0, 1]) {
    for (const r of ranks) {
      const t = performance.now();
      const c = await randomizedSvd(src, { rank: r, fidelityX: X, powerIterations, kernel: await gemmKernel(gemm) });
      curve.push({ rank: r, powerIterations, r2: +c.fidelityR2.toFixed(5), seconds: +((performance.now() - t) / 1000).toFixed(2) });
      ctx.log(`fidelity rank ${r}, ${powerIterations} power iterations: R² ${c.fidelityR2.toFixed(4)}`);
    }
  }
  return { head: `synthetic [${q}, ${NVOX}]: 512 latent directions with singular values ∝ i^-0.75 plus a 20% noise floor; ${nFid} N(0,1) trials; float16 factors`, curve };
}

/**
 * Samples RSS and the load average while the long run goes. The timer only fires when the import
 * waits on I/O (the kernels run without yielding a macrotask), so it can miss peaks: the OS's maxRSS
 * (`processMax`) is the reliable peak.
 */
function sampler(everyMs: number) {
  let peak = 0;
  const loads: number[][] = [];
  let last = 0;
  const tick = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
    if (performance.now() - last > 30_000) {
      loads.push(loadavg().map((x) => +x.toFixed(2)));
      last = performance.now();
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref(); // never keeps the process alive (an import that throws must still exit)
  return {
    stop() {
      clearInterval(timer);
      tick();
      const avg1 = loads.map((l) => l[0]);
      return { peakRssMiB: Math.round(peak / 2 ** 20), loadAverage1m: { min: Math.min(...avg1), mean: +(avg1.reduce((a, b) => a + b, 0) / avg1.length).toFixed(2), max: Math.max(...avg1), samples: avg1.length } };
    },
  };
}

/**
 * The whole of subject 1 at MIRAGE's real shapes (docs/background.md §3: 11.3 billion weights) through
 * `import mirage-weights` itself (runMirageWeights: pickles read lazily by row blocks, heads cached
 * for resumption, atomic write, validation), on a synthetic NSD-size subject bundle (720 trials).
 * Writes bench/results/import-full.json after every head, so an interrupted run keeps what it measured.
 */
async function fullSubject(ctx: BenchContext) {
  const rank = Number(process.env.IMPORT_FULL_RANK ?? 64);
  const powerIterations = Number(process.env.IMPORT_FULL_POWER ?? 1);
  const gemm = (process.env.IMPORT_FULL_GEMM ?? 'tfjs-wasm') as GemmName;
  const only = process.env.IMPORT_FULL_HEADS?.split(',');
  const heads = HEADS.filter(([h]) => !only || only.includes(h));
  const started = new Date().toISOString();
  // a fixed folder, so that a rerun after an interruption finds `import mirage-weights`'s head cache
  // (and reuses the subject bundle); the timings of heads finished before come from the earlier
  // partial results file
  const root = process.env.IMPORT_FULL_ROOT ?? join(tmpdir(), 'mirage-bench-import-full');
  const resultsFile = join(RESULTS_DIR, 'import-full.json');
  const earlier = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as { complete?: boolean; what?: string; perHead?: Array<Record<string, unknown>>; nsdImagery?: Record<string, number> }) : null;
  const bundleReady = existsSync(join(root, 'bundle', 'manifest.json')) && earlier?.nsdImagery;
  const nsd = bundleReady ? { ...(earlier!.nsdImagery as { seconds: number; cpuSeconds: number; trials: number; voxels: number; peakRssMiB: number }), root, bundle: join(root, 'bundle') } : await benchNsdImagery(ctx, 720, true, root);
  if (bundleReady) ctx.log(`reusing the subject bundle in ${root} (interrupted run resumed)`);
  const perHead: Record<string, unknown>[] = [];
  const weights = heads.reduce((a, [, q]) => a + q * NVOX, 0);
  const base = {
    backend: gemm,
    what: `import mirage-weights of a synthetic subject 1 at MIRAGE's real head shapes (${heads.map(([h, q]) => `${h} ${q}x${NVOX}`).join(', ')}), ${weights} weights, rank ${rank}, up to ${powerIterations} power iteration(s), 64 fidelity trials of a synthetic NSD-size bundle (720 trials); weights generated on the fly behind a pickle-shaped ByteSource (nothing stored), run with nice -n 10 on a shared 2-core machine`,
    generator: `per head: ${HEAD_MODEL.latent} latent directions, singular values ∝ i^-${HEAD_MODEL.decay}, ${HEAD_MODEL.noise * 100}% noise floor (× 1e-4, ridge-sized)`,
    started,
    nsdImagery: { seconds: nsd.seconds, cpuSeconds: nsd.cpuSeconds, trials: nsd.trials, voxels: nsd.voxels, peakRssMiB: nsd.peakRssMiB },
  };
  // generation speed alone (one pass over the image head's rows), so the SVD's share can be told apart
  const gen = await syntheticHead(768, NVOX, HEAD_MODEL.latent, HEAD_MODEL.decay, HEAD_MODEL.noise, 1, gemm);
  await gen.readRows(0, 533); // pool + JIT warm-up
  const tg = performance.now();
  const cg = process.cpuUsage();
  for (let s = 0; s < 768; s += 533) await gen.readRows(s, Math.min(533, 768 - s));
  const genNsPerWeight = ((performance.now() - tg) * 1e6) / (768 * NVOX);
  const genCpuNsPerWeight = (((c) => (c.user + c.system) * 1e3)(process.cpuUsage(cg))) / (768 * NVOX);
  const sources = await Promise.all(heads.map(async ([h, q], i) => ({ head: h as HeadName, pickle: syntheticPickle(`synthetic://${h}_ridge.pkl`, await syntheticHead(q, NVOX, HEAD_MODEL.latent, HEAD_MODEL.decay, HEAD_MODEL.noise, 100 + i, gemm)) })));
  const out = join(nsd.root, 'bundle-weights');
  const s = sampler(1000);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let last = { t: t0, cpu: cpu0 };
  let pending: Promise<unknown> = Promise.resolve();
  const write = (complete: boolean, extra: Record<string, unknown> = {}) => {
    const w = pending.then(() => ctx.writeResult('import-full', { ...base, complete, perHead, generationNsPerWeight: { wall: +genNsPerWeight.toFixed(2), cpu: +genCpuNsPerWeight.toFixed(2) }, ...extra }));
    pending = w;
    return w;
  };
  const manifest = await runMirageWeights({
    subject: 1,
    rank,
    out,
    into: nsd.bundle,
    powerIterations,
    gemm,
    quiet: true,
    command: 'bench import (IMPORT_FULL=1)',
    files: async () => sources,
    onHead: (head, info) => {
      const before = info.cached ? earlier?.perHead?.find((h) => h.head === head && !h.cached) : undefined;
      if (before) {
        perHead.push({ ...before, measuredIn: 'the earlier, interrupted run (factors reused from its cache)' });
        ctx.log(`head ${head}: cached; timing from the earlier run`);
        last = { t: performance.now(), cpu: process.cpuUsage() };
        void write(false);
        return;
      }
      const now = { t: performance.now(), cpu: process.cpuUsage() };
      const q = HEADS.find(([h]) => h === head)![1];
      const cpuS = (now.cpu.user + now.cpu.system - last.cpu.user - last.cpu.system) / 1e6;
      const wallS = (now.t - last.t) / 1000;
      perHead.push({ head, shape: [q, NVOX], weights: q * NVOX, seconds: +info.seconds.toFixed(1), cpuSeconds: +cpuS.toFixed(1), secondsSincePreviousHead: +wallS.toFixed(1), weightsPerSecond: Math.round((q * NVOX) / info.seconds), rssMiBNow: Math.round(process.memoryUsage.rss() / 2 ** 20), loadAverage: loadavg().map((x) => +x.toFixed(2)), cached: info.cached });
      ctx.log(`head ${head}: ${JSON.stringify(perHead.at(-1))}`);
      last = now;
      void write(false);
    },
  });
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const stats = s.stop();
  const subj = manifest.subjects[0];
  const fidelity = Object.fromEntries(subj.heads.map((h) => [h.name, { rank: h.rank, r2: +h.fidelity.r2.toFixed(5), trials: h.fidelity.trials, description: h.fidelity.description }]));
  for (const ph of perHead) Object.assign(ph, { fidelityR2: fidelity[ph.head as string]?.r2 });
  const file = await write(true, {
    measured: perHead.some((h) => h.measuredIn)
      ? `all ${heads.length} heads measured end to end (nothing extrapolated): ${perHead.filter((h) => h.measuredIn).map((h) => h.head).join(', ')} in an earlier run that stopped on a later head (resumed from its cache), ${perHead.filter((h) => !h.measuredIn).map((h) => h.head).join(', ')} in this run; 'total' covers this run only, 'sumOfHeads' all heads`
      : `all ${heads.length} heads measured end to end in one run (nothing extrapolated)`,
    sumOfHeads: { seconds: +perHead.reduce((a, h) => a + (h.seconds as number), 0).toFixed(1), cpuSeconds: +perHead.reduce((a, h) => a + (h.cpuSeconds as number), 0).toFixed(1) },
    weights,
    total: { seconds: +seconds.toFixed(1), minutes: +(seconds / 60).toFixed(1), cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1), weightsPerSecond: Math.round(weights / seconds) },
    peakRssMiB: { duringWeightsImport: stats.peakRssMiB, processMax: peakRssMiB(), limit: 8192, under8GiB: Math.max(stats.peakRssMiB, peakRssMiB()) < 8192 },
    loadAverage1mDuringRun: stats.loadAverage1m,
    bundleBytes: subj.heads.reduce((a, h) => a + (h.rank * (h.outputShape.reduce((x, y) => x * y, 1) + subj.voxelCount)) * 2, 0),
    fidelity,
    finished: new Date().toISOString(),
  });
  rmSync(nsd.root, { recursive: true, force: true });
  ctx.log(`wrote ${file}`);
}

export default async function run(ctx: BenchContext): Promise<void> {
  if (process.env.IMPORT_FULL) return fullSubject(ctx);
  if (process.env.IMPORT_KERNELS) {
    // the kernel comparison alone (bench/results/import-kernels.json), e.g. to rerun it on a quieter machine
    const kernel = await kernels(ctx, ctx.quick);
    ctx.log(`wrote ${await ctx.writeResult('import-kernels', { loadAverage: loadavg(), kernel })}`);
    return;
  }
  const quick = ctx.quick;
  const kernel = await kernels(ctx, quick);
  const gemm = kernel.fastest.split(':')[0] as GemmName;
  const { root: _r, bundle: _b, ...nsd } = await benchNsdImagery(ctx, quick ? 120 : 720);
  const head = await imageHead(ctx, quick, gemm);
  const fidelityVsRank = await fidelityCurve(ctx, quick, gemm);
  const file = await ctx.writeResult('import', {
    backend: `block products on ${gemm} (fastest of the kernels measured in this run)`,
    note: 'wall-clock times on a shared machine: other processes were running (load average noted); ratios within the run are the comparable figures',
    loadAverage: loadavg(),
    kernel,
    nsdImagery: nsd,
    imageHead: head,
    fidelityVsRank,
  });
  ctx.log(`wrote ${file}`);
}

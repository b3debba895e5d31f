// The two tensor homes the one stage loop (pipeline.ts) runs on agree operation by operation:
// CpuHome (TypeScript arithmetic on CPU arrays) and GraphHome (the same arithmetic as step graphs;
// here on the wasm execution provider, so every tensor is a CPU tensor and nothing crosses).
import { beforeAll, describe, expect, it } from 'vitest';
import { NoiseRng } from '../../../src/core/base/rng.ts';
import { ort } from '../../../src/core/onnx/runtime.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';
import { buildDemoModelPack } from '../../../src/core/simulate/demoPack.ts';
import { buildEncoderGraphs } from '../../../src/core/simulate/encoders.ts';
import { concatRows, repeatRows, rowDims } from '../../../src/core/generate/batching.ts';
import { CpuHome } from '../../../src/core/generate/cpuHome.ts';
import { GraphHome } from '../../../src/core/generate/graphHome.ts';
import { loadModelPack } from '../../../src/core/generate/modelPack.ts';
import { normalizeTokens } from '../../../src/core/generate/preprocess.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import type { TensorHome } from '../../../src/core/generate/tensorHome.ts';
import { Transfers } from '../../../src/core/generate/transfers.ts';
import { MemoryStore } from './memory.ts';

const rng = new NoiseRng(5);
const normals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const values = (t: ort.Tensor) => t.data as Float32Array;

let sessions: PackSessions;
let homes: { cpu: TensorHome; graphs: TensorHome };
let io: Transfers;

beforeAll(async () => {
  const store = new MemoryStore();
  await buildDemoModelPack(store, { seed: 3, encoders: buildEncoderGraphs(3, null), trainImages: 40 });
  sessions = new PackSessions(await loadModelPack(store));
  io = new Transfers();
  homes = { cpu: new CpuHome(sessions, io), graphs: new GraphHome(sessions, io) };
}, 120_000);

describe('CpuHome and GraphHome', () => {
  it('name their sampler', () => {
    expect(homes.cpu.kind).toBe('typescript');
    expect(homes.graphs.kind).toBe('graphs');
  });

  it('noise one latent to every candidate alike (gdf.diffuse at t = 0.7)', async () => {
    const row = [4, 3, 2];
    const latent = tensor(normals(24), [1, ...row]);
    const noise = normals(3 * 24);
    const [a, b] = await Promise.all([homes.cpu, homes.graphs].map((h) => h.diffuse(latent, row, 3, 0.7, noise, 'priorDenoiser')));
    expect(a.dims).toEqual([3, ...row]);
    expect(b.dims).toEqual([3, ...row]);
    expect(maxRelativeError(values(b), values(a))).toBeLessThan(1e-6);
    // rows differ only by their noise: the latent's share is the same in each
    expect(values(a)[0]).not.toBeCloseTo(values(a)[24], 3);
  });

  it('pad [x; 0] for the unconditional branch', async () => {
    const x = tensor(normals(12), [2, 6]);
    for (const h of [homes.cpu, homes.graphs]) {
      const out = await h.padZeros(x, 'latentDecoder');
      expect(out.dims).toEqual([4, 6]);
      expect(values(out)).toEqual(concatRows(values(x), new Float32Array(12)));
    }
  });

  it('split a batch into runs of `per` rows, the last shorter, or keep it whole', async () => {
    const x = tensor(normals(5 * 6), [5, 2, 3]);
    for (const h of [homes.cpu, homes.graphs]) {
      const parts = await h.splitRows(x, [2, 3], 5, 2, 'pixelDecoder');
      expect(parts.map((p) => p.dims)).toEqual([[2, 2, 3], [2, 2, 3], [1, 2, 3]]);
      expect(concatRows(concatRows(values(parts[0]), values(parts[1])), values(parts[2]))).toEqual(values(x));
      const whole = await h.splitRows(x, [2, 3], 5, 5, 'pixelDecoder');
      expect(whole).toHaveLength(1);
      expect(values(whole[0])).toEqual(values(x));
    }
  });

  it('score candidates by the cosine of their normalised tokens to the target', async () => {
    const [rows, tokens, dim] = [3, 4, 5];
    const target = normalizeTokens(normals(tokens * dim), dim);
    const h = normals(rows * tokens * dim);
    // candidate 1 is the target scaled per token: its score is 1
    h.set(target.map((v, i) => v * (1 + Math.floor(i / dim))), tokens * dim);
    const scores: number[][] = [];
    for (const home of [homes.cpu, homes.graphs]) {
      const t = await home.upload(target, [1, tokens, dim], 'imageEncoder', 'retrieval/target');
      scores.push(await home.scores(tensor(h.slice(), [rows, tokens, dim]), t, rows, tokens, dim, 'imageEncoder'));
    }
    expect(scores[0][1]).toBeCloseTo(1, 6);
    for (let k = 0; k < rows; k++) expect(Math.abs(scores[1][k] - scores[0][k])).toBeLessThan(1e-6);
  });

  it('sample the prior alike (CFG 4, ρ 0.7, 3 steps, seeded noise)', async () => {
    const u = sessions.pack.unconditional;
    const N = 2;
    const row = rowDims(sessions, 'priorDenoiser', 'inputs', 'x');
    const dims = (role: string) => [2 * N, ...rowDims(sessions, 'priorDenoiser', 'inputs', role)];
    const rowsOf = (cond: Float32Array, uncond: Float32Array) => concatRows(repeatRows(cond, N), repeatRows(uncond, N));
    const image = normals(u.clipImg.length);
    const schedule = { batch: N, steps: 3, cfg: 4, cfgRho: 0.7, shift: 2, seed: 8, stream: 'prior' };
    const out: Float32Array[] = [];
    for (const home of [homes.cpu, homes.graphs]) {
      const cond = {
        clip_img: await home.upload(rowsOf(image, u.clipImg), dims('clip_img'), 'priorDenoiser', 'clip_img'),
        clip_text: await home.upload(rowsOf(u.clipText, u.clipText), dims('clip_text'), 'priorDenoiser', 'clip_text'),
        clip_text_pooled: await home.upload(rowsOf(u.clipTextPooled, u.clipTextPooled), dims('clip_text_pooled'), 'priorDenoiser', 'clip_text_pooled'),
      };
      const steps: number[] = [];
      const x = await home.sample({ stage: 'priorDenoiser', cond, schedule, rowDims: row, onStep: (s) => steps.push(s) });
      expect(steps).toEqual([1, 2, 3]);
      expect(x.dims).toEqual([N, ...row]);
      out.push(values(x));
    }
    // float32 rounding only: the graph folds each step into float32 coefficients (STEP_COEFS) where
    // TypeScript computes in float64, and CFG 4 scales the difference of two predictions by 4
    expect(maxRelativeError(out[1], out[0])).toBeLessThan(5e-5);
    expect(maxRelativeError(out[1], out[0])).toBeGreaterThan(0); // two implementations, not one twice
    // on wasm nothing crossed to a GPU
    expect(io.stats.uploads + io.stats.downloads + io.stats.gpuHandoffs).toBe(0);
  }, 60_000);
});

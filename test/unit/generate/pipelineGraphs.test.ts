// The step-graph sampler (gpuSteps.ts: the sampler's CFG/ρ/DDPM/img2img arithmetic as ONNX graphs,
// what runs on the GPU under WebGPU) against the TypeScript sampler (sampler.ts): same numbers to
// float32 rounding. Here both run on the wasm EP (Node); test/browser/gpu-resident.spec.ts runs the
// graph path on WebGPU and checks that the latents stay on the device.
import { describe, expect, it } from 'vitest';
import { buildDemoModelPack } from '../../../src/core/simulate/demoPack.ts';
import { loadModelPack, type LoadedModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { buildStandInPack } from '../../../src/core/generate/standInPack.ts';
import { MIRAGE_DEFAULTS, reconstruct, type DecodedHeads, type Reconstruction } from '../../../src/core/generate/pipeline.ts';
import { NoiseRng } from '../../../src/core/base/rng.ts';
import { sample, type Denoiser } from '../../../src/core/generate/sampler.ts';
import { dupGraph, sampleOnGraphs, StepGraphs, type TensorDenoiser } from '../../../src/core/generate/gpuSteps.ts';
import { Transfers } from '../../../src/core/generate/transfers.ts';
import { ort } from '../../../src/core/onnx/runtime.ts';
import { buildEncoderGraphs } from '../../../src/core/simulate/encoders.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';
import { MemoryStore } from './memory.ts';

function randomHeads(pack: LoadedModelPack, seed: number): DecodedHeads {
  const rng = new NoiseRng(seed);
  const v = (s: number[]) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal());
  const h = pack.manifest.headShapes;
  return { image: v(h.image), text: v(h.text), blurry: v(h.blurry), retrieval: v(h.retrieval), prompt: v(h.prompt) };
}

/** A nonlinear, input-dependent denoiser: ε̂ = tanh(W·x_row + r) per row, cond/uncond rows differ by their index. */
function toyDenoiser(rowDims: number[], seed: number) {
  const size = rowDims.reduce((a, b) => a * b, 1);
  const rng = new NoiseRng(seed);
  const w = Float32Array.from({ length: size }, () => rng.normal() * 0.8);
  const f = (x: Float32Array, r: number, rows: number): Float32Array => {
    const out = new Float32Array(x.length);
    for (let q = 0; q < rows; q++) {
      for (let i = 0; i < size; i++) out[q * size + i] = Math.tanh(w[i] * x[q * size + i] + r + 0.3 * q);
    }
    return out;
  };
  const cpu: Denoiser = { predict: async (x, r, rows) => f(x, r, rows) };
  const tensors: TensorDenoiser = {
    predict: async (x, r, rows) => new ort.Tensor('float32', f(x.data as Float32Array, r, rows), [rows, ...rowDims]),
  };
  return { cpu, tensors };
}

/** Largest |a − b| over two candidate lists' bytes and how many bytes differ. */
function pixelDiff(a: Reconstruction, b: Reconstruction): { max: number; differing: number; total: number } {
  let max = 0;
  let differing = 0;
  let total = 0;
  a.candidates.forEach((c, k) => {
    const d = b.candidates[k].data;
    for (let i = 0; i < c.data.length; i++) {
      const e = Math.abs(c.data[i] - d[i]);
      if (e) differing++;
      max = Math.max(max, e);
    }
    total += c.data.length;
  });
  return { max, differing, total };
}

function expectSameReconstruction(graphs: Reconstruction, ts: Reconstruction): void {
  expect(graphs.sampler).toBe('graphs');
  expect(ts.sampler).toBe('typescript');
  expect(Buffer.compare(graphs.lowLevel!.data, ts.lowLevel!.data)).toBe(0);
  expect(graphs.candidates).toHaveLength(ts.candidates.length);
  // pixels are uint8 truncations of float32 values that agree to ~1e-6: a value next to a step of
  // 1/255 may land on the other side
  const px = pixelDiff(graphs, ts);
  expect(px.max).toBeLessThanOrEqual(1);
  expect(px.differing / px.total).toBeLessThan(1e-3);
  console.log(`scores graphs ${graphs.scores.join(', ')} / typescript ${ts.scores.join(', ')}; pixels ${JSON.stringify(px)}`);
  for (let k = 0; k < ts.scores.length; k++) expect(Math.abs(graphs.scores[k] - ts.scores[k])).toBeLessThan(1e-5);
  expect(graphs.best).toBe(ts.best);
  expect(graphs.captionTokens).toEqual(ts.captionTokens);
  // on wasm nothing crosses to a GPU
  for (const r of [graphs, ts]) {
    expect(r.transfers.uploads + r.transfers.downloads + r.transfers.gpuHandoffs).toBe(0);
  }
  expect(graphs.transfers.stepGraphRuns).toBeGreaterThan(0);
  expect(ts.transfers.stepGraphRuns).toBe(0);
}

describe('step-graph sampler = TypeScript sampler (wasm EP)', () => {
  const graphs = new StepGraphs();
  const cases = [
    { name: 'CFG 4, rho 0.7, shift 2, img2img from t = 0.7', cfg: 4, cfgRho: 0.7, shift: 2, steps: 5, tStart: 0.7, img2img: true },
    { name: 'CFG 1.1, rho 0.7, shift 1, from noise', cfg: 1.1, cfgRho: 0.7, shift: 1, steps: 4, tStart: 1, img2img: false },
    { name: 'CFG 3, rho 0 (plain CFG)', cfg: 3, cfgRho: 0, shift: 1, steps: 3, tStart: 1, img2img: false },
    { name: 'no guidance', cfg: null, cfgRho: 0.7, shift: 2, steps: 3, tStart: 1, img2img: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const rowDims = [4, 3, 3];
      const size = 36;
      const batch = 3;
      const den = toyDenoiser(rowDims, 7);
      const rng = new NoiseRng(11);
      const xInit = c.img2img ? Float32Array.from({ length: batch * size }, () => rng.normal()) : undefined;
      const common = { batch, steps: c.steps, tStart: c.tStart, cfg: c.cfg, cfgRho: c.cfgRho, shift: c.shift, seed: 9, stream: 'prior' };
      const steps: number[] = [];
      const ref = await sample(den.cpu, { ...common, latentSize: size, xInit });
      const io = new Transfers();
      const out = await sampleOnGraphs(den.tensors, {
        ...common,
        rowDims,
        xInit: xInit && new ort.Tensor('float32', Float32Array.from(xInit), [batch, ...rowDims]),
        onGpu: false,
        graphs,
        io,
        onStep: (s) => steps.push(s),
      });
      expect(out.dims).toEqual([batch, ...rowDims]);
      const got = out.data as Float32Array;
      expect(maxRelativeError(got, ref)).toBeLessThan(1e-5);
      expect(steps).toEqual(Array.from({ length: c.steps }, (_, i) => i + 1));
      expect(io.stats.stepGraphRuns).toBe(c.steps + (c.cfg !== null ? 1 : 0)); // + the first [x; x]
      // a broken step would show: the result is far from the start
      if (xInit) expect(maxRelativeError(got, xInit)).toBeGreaterThan(1e-2);
    });
  }
});

describe('reconstruct: sampler "graphs" equals sampler "typescript"', () => {
  it('on the demo pack (fitted graphs, 2-D latents), 3 candidates, MIRAGE settings', async () => {
    const store = new MemoryStore();
    await buildDemoModelPack(store, { seed: 3, encoders: buildEncoderGraphs(3, null), trainImages: 40 });
    const pack = await loadModelPack(store);
    const sessions = new PackSessions(pack);
    const heads = randomHeads(pack, 4);
    const settings = { candidates: 3, seed: 2, captionMaxTokens: 6 };
    const ts = await reconstruct(sessions, heads, settings);
    const onGraphs = await reconstruct(sessions, heads, settings, { sampler: 'graphs' });
    expectSameReconstruction(onGraphs, ts);
    expect(ts.captionTokens.length).toBeGreaterThan(0);
    // the step graphs were the prior's and decoder's loops: int(20·0.7) + 10 DDPM steps + 2 dups, img2img, pad, split, scores, captions
    expect(onGraphs.transfers.stepGraphRuns).toBeGreaterThanOrEqual(14 + 10 + 2 + 3);
  }, 120_000);

  it('on the stand-in pack at the real shapes (4-D latents, 1024² pixels)', async () => {
    const store = new MemoryStore();
    await buildStandInPack(store, { seed: 2 });
    const pack = await loadModelPack(store);
    const sessions = new PackSessions(pack);
    const heads = randomHeads(pack, 1);
    const settings = { candidates: 2, seed: 5, prior: { ...MIRAGE_DEFAULTS.prior, steps: 3 }, decoder: { ...MIRAGE_DEFAULTS.decoder, steps: 2 }, captionMaxTokens: 2 };
    const ts = await reconstruct(sessions, heads, settings);
    const onGraphs = await reconstruct(sessions, heads, settings, { sampler: 'graphs' });
    expectSameReconstruction(onGraphs, ts);
  }, 120_000);
});

describe('mixed placement (a stage on wasm gets CPU tensors)', () => {
  /** A tensor that claims to live on a GPU (no GPU in Node): its values come back through `download`. */
  function fakeGpuTensor(data: Float32Array, dims: number[], log: string[]) {
    const buffer = { size: data.byteLength, mapState: 'unmapped', destroy() {} } as unknown as Parameters<typeof ort.Tensor.fromGpuBuffer>[0];
    return ort.Tensor.fromGpuBuffer(buffer, {
      dataType: 'float32',
      dims,
      download: async () => {
        log.push('download');
        return Float32Array.from(data);
      },
      dispose: () => log.push('dispose'),
    });
  }

  it('downloads a GPU tensor fed to a wasm stage, counts it, and runs the stage on the values', async () => {
    const store = new MemoryStore();
    await buildDemoModelPack(store, { seed: 3, encoders: buildEncoderGraphs(3, null), trainImages: 40 });
    const sessions = new PackSessions(await loadModelPack(store));
    const x = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i));
    const log: string[] = [];
    const gpuX = fakeGpuTensor(x, [1, 3, 64, 64], log);
    expect(gpuX.location).toBe('gpu-buffer');
    const io = new Transfers();
    const out = await sessions.runTensors('latentEncoder', { images: gpuX }, ['latents'] as const, io);
    const ref = await sessions.run('latentEncoder', { images: { data: x, bind: { batch: 1 } } }, ['latents'] as const);
    // downloaded once, the GPU copy freed at once (getData(true)); from then on a CPU tensor
    expect(log).toEqual(['download', 'dispose']);
    expect(gpuX.location).toBe('cpu');
    expect(io.stats.downloads).toBe(1);
    expect(io.stats.downloadBytes).toBe(x.length * 4);
    expect(io.stats.byLabel['latentEncoder/images']).toMatchObject({ downloads: 1, downloadBytes: x.length * 4 });
    expect(io.stats.uploads).toBe(0);
    expect(ref.latents.data.every(Number.isFinite)).toBe(true);
    expect(Array.from(out.latents.data as Float32Array)).toEqual(Array.from(ref.latents.data));
    // a held tensor survives release(); releaseAll() disposes it
    const log3: string[] = [];
    const held = io.hold(fakeGpuTensor(x, [1, 3, 64, 64], log3));
    io.release(held);
    expect(log3).toEqual([]);
    io.releaseAll();
    expect(log3).toEqual(['dispose']);
    // the step graphs do the same on wasm
    const log2: string[] = [];
    const io2 = new Transfers();
    const dup = await sessions.steps.run('dup|1x3x64x64', false, () => dupGraph([1, 3, 64, 64]), { x: fakeGpuTensor(x, [1, 3, 64, 64], log2) }, io2);
    expect(log2).toEqual(['download', 'dispose']);
    expect(io2.stats.byLabel['step:dup/x']).toMatchObject({ downloads: 1 });
    expect(Array.from(dup.xx.data as Float32Array)).toEqual([...x, ...x]);
  }, 60_000);
});

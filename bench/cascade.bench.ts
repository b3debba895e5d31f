// Stable Cascade (issue 15, "Measure"), in sections chosen by MIRAGE_BENCH_CASCADE (comma list;
// default all; sections not run keep their previous rows in bench/results/cascade.json):
// - converter: `mirage pack stable-cascade --variant lite` (all four stages) as its own process under
//   /usr/bin/time -v on random checkpoints with the official names and shapes at their real size:
//   wall, CPU, peak RSS (the converter streams: it never holds a checkpoint), bytes and parts per stage.
// - stageB, effnet: the packed latentDecoder / latentEncoder at real size, batch 1, read from the
//   pack and run on wasm through their parts (runStage, as `mirage run-stage` does): load, session
//   and run time; compared with a reference output when MIRAGE_CASCADE_REFERENCE holds one.
// - stageA: the pixel decoder at the real width on a 64x64 latent (256 px), scaled to 1024 px by
//   pixel count (convolutions only: time is linear in pixels).
// - stageCStep: stage C at the real width (1536, 24x24 latent, 85 tokens), one CTA triplet per level.
// - projection: one MIRAGE reconstruction from the per-step times scaled by multiply-add counts.
// Environment: MIRAGE_CASCADE_CHECKPOINTS (folder of the lite checkpoints; default: written here,
// random), MIRAGE_CASCADE_PACK (pack folder; default bench/tmp/cascade/pack-lite),
// MIRAGE_CASCADE_PRECISION (float32|float16|both, default both), MIRAGE_CASCADE_REFERENCE (folder with
// <stage>/inputs/<role>.npy and <stage>/ref_<output role>.npy from the public code run outside the project).
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../src/core/base/rng.ts';
import { openCheckpoint, type Checkpoint } from '../src/core/generate/packers/checkpoint.ts';
import { EFFNET_V2_S, effnetShapes } from '../src/core/generate/packers/cascade/effnet.ts';
import { STAGE_A, stageAGraph, stageAImageSize, stageAShapes } from '../src/core/generate/packers/cascade/stageA.ts';
import { STAGE_B_FULL, STAGE_B_LITE, stageBMacs, stageBParamCount, stageBShapes, type StageBConfig } from '../src/core/generate/packers/cascade/stageB.ts';
import { buildStageC, STAGE_C_FULL, STAGE_C_LITE, stageCMacs, stageCParamCount, stageCShapes, type StageCConfig } from '../src/core/generate/packers/cascade/stageC.ts';
import { runStage } from '../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../src/core/generate/packers/stagePack.ts';
import { createSession, ort } from '../src/core/onnx/runtime.ts';
import { readNpy, type NpyArray } from '../src/core/tensor/npy.ts';
import { fsTree } from '../src/node/files.ts';
import { FsShardSource } from '../src/node/fsSource.ts';
import { REPO_DIR } from './lib-browser.ts';
import { RESULTS_DIR, type BenchContext } from './lib.ts';

const DIR = join(REPO_DIR, 'bench/tmp/cascade');

/** Writes a safetensors file of random bf16 values tensor by tensor (never the whole file in memory). */
async function writeRandomBf16(path: string, shapes: Map<string, number[]>): Promise<number> {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'BF16', shape, data_offsets: [at, at + 2 * n] };
    at += 2 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = createWriteStream(path);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  out.write(len);
  out.write(json);
  // Values do not change the speed: one table of random small bf16 values, repeated.
  const u = mulberry32(7);
  const table = new Uint16Array(1 << 20);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < table.length; i++) {
    f[0] = (u() - 0.5) * 0.04;
    table[i] = bits[0] >>> 16;
  }
  const random = Buffer.from(table.buffer);
  // BatchNorm variances must be positive (the EfficientNet builder checks): 1.0 in bf16.
  const ones = Buffer.from(new Uint16Array(1 << 20).fill(0x3f80).buffer);
  for (const [name, shape] of shapes) {
    const chunk = name.endsWith('running_var') ? ones : random;
    let left = 2 * shape.reduce((a, b) => a * b, 1);
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      if (!out.write(piece)) await once(out, 'drain');
      left -= piece.length;
    }
  }
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

/** `mirage pack stable-cascade` as its own process under /usr/bin/time -v: wall, CPU and peak RSS. */
function timePack(args: string[]): { wallS: number; userS: number; systemS: number; maxRssMiB: number; stdoutTail: string } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, join(REPO_DIR, 'bin/mirage.js'), 'pack', 'stable-cascade', ...args, '--quiet'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const wallS = (performance.now() - t0) / 1000;
  const err = r.stderr ?? '';
  if (r.status !== 0) throw new Error(`pack stable-cascade failed (${r.status}): ${err.slice(-2000)}`);
  const num = (re: RegExp) => Number((err.match(re) ?? [])[1] ?? NaN);
  return {
    wallS,
    userS: num(/User time \(seconds\): ([\d.]+)/),
    systemS: num(/System time \(seconds\): ([\d.]+)/),
    maxRssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
    stdoutTail: `${r.stdout ?? ''}${err.split('\n')[0]}`.trim().slice(-600),
  };
}

interface PackFiles {
  files: { path: string; bytes: number }[];
  stages: Record<string, { file: string; data: string[]; parts?: { data?: string[] }[]; variants?: Record<string, { file: string; data: string[]; parts?: { data?: string[] }[] }> }>;
}

/** Parts and bytes of each stage (and of its variants) from a written pack's manifest. */
function packSummary(dir: string): Record<string, unknown> {
  const m = JSON.parse(readFileSync(join(dir, 'modelpack.json'), 'utf8')) as PackFiles;
  const size = new Map(m.files.map((f) => [f.path, f.bytes]));
  const bytesOf = (b: { file: string; data: string[]; parts?: { data?: string[] }[] }) => {
    const dataFiles = b.parts ? b.parts.flatMap((p) => p.data ?? []) : b.data;
    return dataFiles.reduce((a, f) => a + (size.get(f) ?? 0), 0);
  };
  const stages = Object.fromEntries(
    Object.entries(m.stages).map(([name, st]) => [
      name,
      {
        parts: st.parts?.length ?? 1,
        weightBytes: bytesOf(st),
        variants: Object.fromEntries(Object.entries(st.variants ?? {}).map(([v, b]) => [v, { parts: b.parts?.length ?? 1, weightBytes: bytesOf(b) }])),
      },
    ]),
  );
  return { files: m.files.length, bytes: m.files.reduce((a, f) => a + f.bytes, 0), stages };
}

const absDiff = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  let top = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    top = Math.max(top, Math.abs(b[i]));
  }
  return { maxAbsDiff: d, maxAbsReference: top };
};

const readArray = (path: string): NpyArray => readNpy(new Uint8Array(readFileSync(path)), path);

/**
 * One packed stage at real size, batch 1, on wasm through its parts: manifest + weights read (sha256
 * checked), sessions created, one run; compared with the reference outputs when given.
 */
async function timePackedStage(ctx: BenchContext, pack: string, stage: string, refDir: string | undefined): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const loaded = await loadPackStage(new FsShardSource(pack), stage);
  const loadMs = performance.now() - t0;
  const inputs: Record<string, NpyArray> = {};
  for (const [role, spec] of Object.entries(loaded.spec.inputs)) {
    const given = refDir && join(refDir, stage, 'inputs', `${role}.npy`);
    if (given && existsSync(given)) inputs[role] = readArray(given);
    else {
      const shape = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
      const n = shape.reduce((a, b) => a * b, 1);
      const data = role === 'r' ? Float32Array.from({ length: n }, () => 0.6) : Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
      inputs[role] = { dtype: '<f4', shape, data, fortranOrder: false } as NpyArray;
    }
  }
  ctx.log(`${stage}: loaded in ${(loadMs / 1000).toFixed(1)} s (${loaded.parts?.length ?? 1} part(s)); running`);
  const r = await runStage(loaded, inputs);
  const compared: Record<string, unknown> = {};
  for (const [role, out] of Object.entries(r.outputs)) {
    for (const f of refDir && existsSync(join(refDir, stage)) ? readdirSync(join(refDir, stage)).filter((x) => x.startsWith(`ref_${role}`) && x.endsWith('.npy')) : []) {
      compared[f] = absDiff(out.data as Float32Array, readArray(join(refDir as string, stage, f)).data as Float32Array);
    }
  }
  return {
    parts: loaded.parts?.length ?? 1,
    weightBytes: (loaded.parts ?? [loaded]).reduce((a, p) => a + p.externalData.reduce((b, d) => b + d.data.length, 0), 0),
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.shape])),
    inputsFrom: refDir ? join(refDir, stage, 'inputs') : 'generated (sin pattern, r = 0.6)',
    loadS: loadMs / 1000,
    sessionsS: r.timing.sessionsMs / 1000,
    runS: r.timing.runMs / 1000,
    rssGiBAfter: process.memoryUsage().rss / 2 ** 30,
    comparedWithReference: compared,
  };
}

function randomCheckpoint(label: string, shapes: Map<string, number[]>): Checkpoint {
  const names = [...shapes.keys()];
  return {
    label,
    files: [label],
    tensors: new Map(names.map((name) => [name, { name, shape: shapes.get(name)!, dtype: 'F32', file: label }])),
    async read(name) {
      const u = mulberry32(names.indexOf(name) + 1);
      return Float32Array.from({ length: shapes.get(name)!.reduce((a, b) => a * b, 1) }, () => (u() - 0.5) * 0.04);
    },
  };
}

/** Stage C at the real width and latent, one CTA triplet per level: per-step wasm time and its rate. */
async function stageCStep(ctx: BenchContext): Promise<Record<string, unknown>> {
  const width = ctx.quick ? 512 : 1536;
  const reduced: StageCConfig = { ...STAGE_C_LITE, name: `stage C width ${width}, 1 block per level`, cCond: width, cHidden: [width, width], nhead: [width / 64, width / 64], blocks: [[1, 1], [1, 1]] };
  const parts = [];
  for await (const p of buildStageC(randomCheckpoint('random stage C', stageCShapes(reduced)), reduced)) parts.push(p);
  const session = await createSession(parts[0].graph.toBytes());
  const batch = 1;
  const s = reduced.latentSize;
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
  const feeds = {
    x: new ort.Tensor('float32', rnd(batch * 16 * s * s), [batch, 16, s, s]),
    r: new ort.Tensor('float32', Float32Array.of(0.5), [batch]),
    clip_text: new ort.Tensor('float32', rnd(batch * 77 * 1280), [batch, 77, 1280]),
    clip_text_pooled: new ort.Tensor('float32', rnd(batch * 1280), [batch, 1, 1280]),
    clip_img: new ort.Tensor('float32', rnd(batch * 768), [batch, 1, 768]),
  };
  await session.run(feeds); // warm-up
  const times: number[] = [];
  for (let i = 0; i < (ctx.quick ? 1 : 3); i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  const stepMs = Math.min(...times);
  const macs = stageCMacs(reduced, batch);
  return {
    config: reduced,
    parameters: stageCParamCount(reduced),
    batch,
    macs,
    stepMs,
    timesMs: times,
    msPerGmac: (stepMs / macs) * 1e9,
    note: 'wasm time per multiply-add at this width, assumed constant when scaling to the full configs and batch 32 (the blocks are the same shapes, only more of them; attention grows with the batch linearly)',
  };
}

/** Stage A's decoder at the real width on a small latent; per 1024 px image by pixel count. */
async function stageAImage(ctx: BenchContext, ckDir: string): Promise<Record<string, unknown>> {
  const latent = ctx.quick ? 16 : 64;
  const cfg = { ...STAGE_A, latentSize: latent };
  const ck = await openCheckpoint(fsTree(ckDir), { file: 'stage_a.safetensors' });
  const session = await createSession((await stageAGraph(ck, cfg)).toBytes());
  const x = new ort.Tensor('float32', Float32Array.from({ length: 4 * latent * latent }, (_, i) => Math.sin(i * 0.37)), [1, 4, latent, latent]);
  const t0 = performance.now();
  await session.run({ latents: x });
  const ms = performance.now() - t0;
  await session.release();
  const scale = (stageAImageSize(STAGE_A) / stageAImageSize(cfg)) ** 2;
  return { latentSize: latent, imagePx: stageAImageSize(cfg), runMs: ms, perImage1024S: (ms * scale) / 1000, scaling: `x${scale}: convolutions only, time linear in pixels (to ${stageAImageSize(STAGE_A)} px)` };
}

type Section = 'converter' | 'stageB' | 'effnet' | 'stageA' | 'stageCStep';

export default async function run(ctx: BenchContext): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const sections = (process.env.MIRAGE_BENCH_CASCADE ?? 'converter,stageB,effnet,stageA,stageCStep').split(',') as Section[];
  const ckDir = process.env.MIRAGE_CASCADE_CHECKPOINTS ?? join(DIR, 'checkpoints-lite');
  const pack = process.env.MIRAGE_CASCADE_PACK ?? join(DIR, 'pack-lite');
  const precision = process.env.MIRAGE_CASCADE_PRECISION ?? 'both';
  const refDir = process.env.MIRAGE_CASCADE_REFERENCE;
  const previousFile = join(RESULTS_DIR, 'cascade.json');
  const previous = (existsSync(previousFile) ? JSON.parse(readFileSync(previousFile, 'utf8')) : {}) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...previous, backend: 'onnxruntime-web wasm (Node, one thread)' };
  for (const k of ['name', 'date', 'machine', 'quick', 'loadAverageAtStart']) delete out[k];
  const section = async (name: Section, f: () => Promise<Record<string, unknown>>) => {
    if (!sections.includes(name)) return;
    const loadAverageAtStart = os.loadavg();
    ctx.log(`-- ${name}`);
    const r = await f();
    out[name] = { ...r, loadAverageAtStart, loadAverageAtEnd: os.loadavg(), measuredAt: new Date().toISOString() };
    ctx.log(`${name}: ${JSON.stringify(r).slice(0, 800)}`);
  };

  await section('converter', async () => {
    mkdirSync(ckDir, { recursive: true });
    const files: Record<string, number> = {};
    for (const [names, shapes] of [
      [['stage_c_lite_bf16.safetensors', 'stage_c_lite.safetensors'], stageCShapes(STAGE_C_LITE)],
      [['stage_b_lite_bf16.safetensors', 'stage_b_lite.safetensors'], stageBShapes(STAGE_B_LITE)],
      [['effnet_encoder.safetensors'], effnetShapes(EFFNET_V2_S)],
      [['stage_a.safetensors'], stageAShapes(STAGE_A)],
    ] as const) {
      const have = names.find((n) => existsSync(join(ckDir, n)));
      if (!have) ctx.log(`writing ${names[0]}`);
      files[have ?? names[0]] = have ? statSync(join(ckDir, have)).size : await writeRandomBf16(join(ckDir, names[0]), shapes);
    }
    const args = ['--checkpoints', ckDir, '--variant', 'lite', '--precision', precision, '--out', pack];
    ctx.log(`pack stable-cascade ${args.join(' ')}`);
    const result = ctx.quick ? null : timePack(args);
    return {
      what: `mirage pack stable-cascade ${args.join(' ')} (default 1 GiB parts, 128 MiB weight files), own process under /usr/bin/time -v; random checkpoints with the official names and shapes at the real size`,
      checkpointBytes: files,
      result,
      pack: existsSync(join(pack, 'modelpack.json')) ? packSummary(pack) : null,
    };
  });
  await section('stageB', async () => ({ stage: 'latentDecoder', variant: 'lite, float32', ...(await timePackedStage(ctx, pack, 'latentDecoder', refDir)), macs: stageBMacs(STAGE_B_LITE, 1) }));
  await section('effnet', async () => ({ stage: 'latentEncoder', ...(await timePackedStage(ctx, pack, 'latentEncoder', refDir)) }));
  await section('stageA', () => stageAImage(ctx, ckDir));
  await section('stageCStep', () => stageCStep(ctx));

  // Projection of one MIRAGE reconstruction: 16 candidates, CFG doubles the batch of both
  // denoisers (32); stage C int(20 · 0.7) = 14 img2img steps, stage B 10 steps; stage A once per
  // candidate; the EfficientNet encoder once (the init image). Time per multiply-add of stage C at
  // the real width (stageCStep) and of stage B lite at real size (stageB), constant across configs.
  const rows = out as { stageCStep?: { msPerGmac: number }; stageB?: { runS: number; macs: number }; stageA?: { perImage1024S: number }; effnet?: { runS: number } };
  if (rows.stageCStep && rows.stageB && rows.stageA && rows.effnet) {
    const candidates = 16;
    const cfgBatch = 2 * candidates;
    const stepsC = Math.floor(20 * 0.7);
    const stepsB = 10;
    const msPerGmacB = ((rows.stageB.runS * 1000) / rows.stageB.macs) * 1e9;
    const variant = (c: StageCConfig, b: StageBConfig) => {
      const cStepS = (rows.stageCStep!.msPerGmac * stageCMacs(c, cfgBatch)) / 1e12;
      const bStepS = (msPerGmacB * stageBMacs(b, cfgBatch)) / 1e12;
      const aS = candidates * rows.stageA!.perImage1024S;
      const eS = rows.effnet!.runS;
      return {
        stageC: { name: c.name, parameters: stageCParamCount(c), gmacsPerSample: stageCMacs(c, 1) / 1e9, stepSBatch1: cStepS / cfgBatch, stepSBatch32: cStepS, totalS: stepsC * cStepS },
        stageB: { name: b.name, parameters: stageBParamCount(b), gmacsPerSample: stageBMacs(b, 1) / 1e9, stepSBatch1: bStepS / cfgBatch, stepSBatch32: bStepS, totalS: stepsB * bStepS },
        stageAS: aS,
        effnetS: eS,
        totalH: (stepsC * cStepS + stepsB * bStepS + aS + eS) / 3600,
      };
    };
    out.projection = {
      candidates,
      cfgBatch,
      stageCSteps: stepsC,
      stageBSteps: stepsB,
      msPerGmac: { stageC: rows.stageCStep.msPerGmac, stageB: msPerGmacB },
      scaling: 'per-step time = measured ms per G multiply-add (stageCMacs / stageBMacs: matrix products, convolutions, attention) x the config\'s multiply-adds x batch; stage A x 16 images, effnet once',
      lite: variant(STAGE_C_LITE, STAGE_B_LITE),
      full: variant(STAGE_C_FULL, STAGE_B_FULL),
    };
  }
  await ctx.writeResult('cascade', out);
}

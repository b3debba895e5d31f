// Stable Cascade stage C (issue 15, "Measure"): (1) the converter — `mirage pack stable-cascade
// --variant lite` run as its own process under /usr/bin/time on random checkpoints with the official
// names and shapes at their real size (stage C lite 1.03 B parameters as bf16, 2.06 GB; stage B
// lite, the EfficientNet encoder and stage A at their real size too), wall time and peak RSS (the converter
// streams: it never holds the checkpoint); (2) per-step time of stage C on wasm at the real width
// (1536, 24x24 latent, 85 conditioning tokens) with one CTA triplet per level, and the projection to
// the full lite and 3.6B models and to one MIRAGE reconstruction by multiply-add counts
// (stageCMacs). Files are written into bench/tmp/cascade/ (git-ignored). `--quick`: width 512.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../src/core/base/rng.ts';
import type { Checkpoint } from '../src/core/generate/packers/checkpoint.ts';
import { EFFNET_V2_S, effnetShapes } from '../src/core/generate/packers/cascade/effnet.ts';
import { STAGE_A, stageAShapes } from '../src/core/generate/packers/cascade/stageA.ts';
import { STAGE_B_LITE, stageBShapes } from '../src/core/generate/packers/cascade/stageB.ts';
import { buildStageC, STAGE_C_FULL, STAGE_C_LITE, stageCMacs, stageCParamCount, stageCShapes, type StageCConfig } from '../src/core/generate/packers/cascade/stageC.ts';
import { createSession, ort } from '../src/core/onnx/runtime.ts';
import { REPO_DIR } from './lib-browser.ts';
import type { BenchContext } from './lib.ts';

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

/** `mirage pack stable-cascade` as its own process under /usr/bin/time -v: wall seconds and peak RSS. */
function timePack(args: string[]): { wallS: number; maxRssMiB: number; userS: number; systemS: number; stderrTail: string } {
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, join(REPO_DIR, 'bin/mirage.js'), 'pack', 'stable-cascade', ...args, '--quiet'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const err = r.stderr ?? '';
  const num = (re: RegExp) => Number((err.match(re) ?? [])[1] ?? NaN);
  const wall = (err.match(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/) ?? [])[1] ?? '';
  const wallS = wall.split(':').reduce((a, p) => a * 60 + Number(p), 0);
  if (r.status !== 0) throw new Error(`pack stable-cascade failed (${r.status}): ${err.slice(-2000)}`);
  return { wallS, maxRssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024, userS: num(/User time \(seconds\): ([\d.]+)/), systemS: num(/System time \(seconds\): ([\d.]+)/), stderrTail: err.split('\n').slice(0, 2).join(' ') };
}

export default async function run(ctx: BenchContext): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  const load = os.loadavg();
  // (1) The converter at the lite variant's real size.
  const ckDir = join(DIR, 'checkpoints-lite');
  mkdirSync(ckDir, { recursive: true });
  const files: Record<string, number> = {};
  for (const [name, shapes] of [
    ['stage_c_lite_bf16.safetensors', stageCShapes(STAGE_C_LITE)],
    ['stage_b_lite_bf16.safetensors', stageBShapes(STAGE_B_LITE)],
    ['effnet_encoder.safetensors', effnetShapes(EFFNET_V2_S)],
    ['stage_a.safetensors', stageAShapes(STAGE_A)],
  ] as const) {
    const p = join(ckDir, name);
    if (!existsSync(p)) ctx.log(`writing ${name}`);
    files[name] = existsSync(p) ? statSync(p).size : await writeRandomBf16(p, shapes);
  }
  const partMiB = 512;
  const out = join(DIR, 'pack-lite-f16');
  ctx.log(`pack stable-cascade --variant lite --precision float16 --max-part-mib ${partMiB}`);
  const pack = ctx.quick ? null : timePack(['--checkpoints', ckDir, '--variant', 'lite', '--precision', 'float16', '--max-part-mib', String(partMiB), '--out', out]);
  ctx.log(`pack: ${JSON.stringify(pack)}`);

  // (2) Per-step time at the real width and latent size, one CTA triplet per level.
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
  const reps = ctx.quick ? 1 : 3;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  const stepMs = Math.min(...times);
  const macs = (cfg: StageCConfig, b: number) => stageCMacs(cfg, b);
  const perMac = stepMs / macs(reduced, batch);
  // MIRAGE: 16 candidates, CFG doubles the batch (32); stage C runs int(20 · 0.7) = 14 steps from
  // t = strength 0.7 (img2img), stage B 10 steps (not projected here: its builder is separate).
  const candidates = 16;
  const cfgBatch = 2 * candidates;
  const steps = Math.floor(20 * 0.7);
  const projection = Object.fromEntries(
    [STAGE_C_LITE, STAGE_C_FULL].map((cfg) => [
      cfg.name,
      { parameters: stageCParamCount(cfg), macsPerSample: macs(cfg, 1), stepMsBatch1: perMac * macs(cfg, 1), stepMsBatch32: perMac * macs(cfg, cfgBatch), stageCPerReconstructionS: (perMac * macs(cfg, cfgBatch) * steps) / 1000 },
    ]),
  );
  await ctx.writeResult('cascade', {
    backend: 'onnxruntime-web wasm (Node, one thread)',
    loadAverageAtStart: load,
    converter: {
      what: 'mirage pack stable-cascade --variant lite --precision float16 --max-part-mib 512, own process under /usr/bin/time -v; random bf16 checkpoints with the official names and shapes at the real size',
      checkpointBytes: files,
      result: pack,
      packBytes: existsSync(join(out, 'modelpack.json')) ? JSON.parse((await import('node:fs')).readFileSync(join(out, 'modelpack.json'), 'utf8')).files.reduce((a: number, f: { bytes: number }) => a + f.bytes, 0) : null,
    },
    stageCStep: {
      config: reduced,
      parameters: stageCParamCount(reduced),
      batch,
      macs: macs(reduced, batch),
      stepMs,
      timesMs: times,
      msPerGmac: perMac * 1e9,
      note: 'wasm time per multiply-add at this width, assumed constant when scaling to the full configs and batch 32 (the blocks are the same shapes, only more of them; attention grows with the batch linearly)',
    },
    projection: { candidates, cfgBatch, stageCSteps: steps, byConfig: projection },
  });
}

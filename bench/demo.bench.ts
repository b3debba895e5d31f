// Time of the SIMULATED demo build (`mirage demo`), default config (quick: a small one). Records wall
// time and this process's CPU time (user + system) per stage: on a shared, busy machine the CPU time
// is the better estimate of what an idle machine would take; the load average is recorded with it.
import os from 'node:os';
import { buildDemo } from '../src/core/simulate/buildDemo.ts';
import { DEFAULT_TRAIN_IMAGES, DEFAULT_VOXELS } from '../src/core/simulate/dims.ts';
import type { ShardSink } from '../src/core/bundle/writer.ts';
import type { BenchContext } from './lib.ts';

class CountingSink implements ShardSink {
  bytes = 0;
  files = 0;
  async write(_path: string, bytes: Uint8Array): Promise<void> {
    this.bytes += bytes.byteLength;
    this.files++;
  }
}

export default async function run(ctx: BenchContext): Promise<void> {
  const config = ctx.quick
    ? { seed: 1, voxels: 300, trainImages: 200 }
    : { seed: 1, voxels: DEFAULT_VOXELS, trainImages: DEFAULT_TRAIN_IMAGES };
  const loadBefore = os.loadavg();
  const stages: { label: string; wallS: number; cpuS: number }[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let lastLabel = '';
  let lastT = t0;
  let lastC = c0;
  const mark = (label: string) => {
    const t = performance.now();
    const c = process.cpuUsage();
    if (lastLabel) stages.push({ label: lastLabel, wallS: (t - lastT) / 1000, cpuS: (c.user - lastC.user + c.system - lastC.system) / 1e6 });
    lastLabel = label;
    lastT = t;
    lastC = c;
  };
  const sink = new CountingSink();
  await buildDemo(sink, { ...config, command: 'mirage bench demo', onProgress: (_d, _t, label) => label !== lastLabel && mark(label) });
  mark('end');
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuS = (c.user + c.system) / 1e6;
  ctx.log(`demo build: ${wallS.toFixed(1)} s wall, ${cpuS.toFixed(1)} s CPU, ${(sink.bytes / 2 ** 20).toFixed(1)} MiB`);
  await ctx.writeResult('demo', {
    backend: 'node (plain JS math; demo encoders on onnxruntime-web wasm, 1 thread)',
    config,
    wallSeconds: wallS,
    cpuSeconds: cpuS,
    bytesWritten: sink.bytes,
    filesWritten: sink.files,
    loadAverageBefore: loadBefore,
    loadAverageAfter: os.loadavg(),
    stages,
  });
}

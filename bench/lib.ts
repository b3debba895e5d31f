// Shared plumbing for `npm run bench`: machine facts and result files. Each bench/*.bench.ts
// exports `default async function run(ctx: BenchContext)`; speed lives here, never in tests.
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomically } from '../src/node/atomic.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

export interface Machine {
  hostname: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: os.platform(),
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

export interface BenchContext {
  /** Set by `mirage bench --quick`: smaller sizes, for a smoke run. */
  quick: boolean;
  log: (msg: string) => void;
  /** Writes bench/results/<name>.json (atomically) with the machine and a timestamp added. */
  writeResult: (name: string, result: Record<string, unknown>) => Promise<string>;
}

export function createContext(quick: boolean): BenchContext {
  return {
    quick,
    log: (msg) => process.stderr.write(`${msg}\n`),
    async writeResult(name, result) {
      const file = join(RESULTS_DIR, `${name}.json`);
      const body = { name, date: new Date().toISOString(), machine: machine(), quick, ...result };
      await writeFileAtomically(file, JSON.stringify(body, null, 2));
      return file;
    },
  };
}

export { timeIt } from './timing.ts';

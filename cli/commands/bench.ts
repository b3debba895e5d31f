// `mirage bench [names...]`: runs bench/*.bench.ts (all, or those named) and writes bench/results/.
import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, createContext, type BenchContext } from '../../bench/lib.ts';

export function register(program: Command): void {
  program
    .command('bench')
    .description('run benchmarks (bench/*.bench.ts); results go to bench/results/*.json')
    .argument('[names...]', 'benchmark names (file names without .bench.ts); default all')
    .option('--quick', 'smaller sizes, for a smoke run')
    .action(async (names: string[], opts: { quick?: boolean }) => {
      const all = readdirSync(BENCH_DIR)
        .filter((f) => f.endsWith('.bench.ts'))
        .map((f) => f.replace(/\.bench\.ts$/, ''))
        .sort();
      const chosen = names.length ? names : all;
      for (const n of chosen) if (!all.includes(n)) throw new Error(`no benchmark named ${n} (have: ${all.join(', ')})`);
      const ctx = createContext(Boolean(opts.quick));
      for (const n of chosen) {
        ctx.log(`== bench ${n}`);
        const mod = (await import(pathToFileURL(join(BENCH_DIR, `${n}.bench.ts`)).href)) as {
          default: (c: BenchContext) => Promise<void>;
        };
        await mod.default(ctx);
      }
    });
}

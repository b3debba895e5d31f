// The hostile corpus through the `mirage` command line, as an attacker or a careless collaborator
// would run it: each case runs as a child process under /usr/bin/time with a 1.5 GB heap limit, in
// a fresh working folder with its own HOME and TMPDIR, and must exit non-zero with a message naming
// the file, stay under the memory cap (peak RSS), and write nothing: not its --out, not anywhere else.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTinyBundles, writeTinyBundle } from '../bundle/tinyBundle.ts';
import { hostilePath } from './helpers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
/** "no input may take more than about 1.5 GB" (issue 16). */
const MEMORY_CAP_KB = 1.5e6;
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
  removeTinyBundles();
});

interface Run {
  status: number | null;
  output: string;
  peakKb: number;
  /** Everything the run left in its working folder, HOME and TMPDIR (tsx's own compile cache aside). */
  written: string[];
  work: string;
}

function listAll(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(prefix, e.name);
    return e.isDirectory() ? [p + '/', ...listAll(join(dir, e.name), p)] : [p];
  });
}

function mirage(args: (work: string) => string[], timeoutMs = 120_000): Run {
  const work = mkdtempSync(join(tmpdir(), 'mirage-hostile-cli-'));
  made.push(work);
  const env = { ...process.env, HOME: join(work, 'home'), TMPDIR: join(work, 'tmp'), NODE_OPTIONS: '--max-old-space-size=1536' };
  execFileSync('mkdir', ['-p', env.HOME, env.TMPDIR]);
  const r = spawnSync('/usr/bin/time', ['-f', 'PEAK_RSS_KB=%M', process.execPath, join(ROOT, 'bin', 'mirage.js'), ...args(work)], {
    cwd: work,
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  const peak = /PEAK_RSS_KB=(\d+)/.exec(r.stderr);
  const written = listAll(work).filter((p) => !/^tmp\/tsx-/.test(p) && p !== 'home/' && p !== 'tmp/');
  return { status: r.status, output, peakKb: peak ? Number(peak[1]) : NaN, written, work };
}

function expectRefused(run: Run, message: RegExp): void {
  expect(run.status, run.output).not.toBe(0);
  expect(run.status, run.output).not.toBeNull(); // null: killed by the spawn timeout (a hang)
  expect(run.output).toMatch(message);
  expect(run.output).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m); // an error, not a stack trace
  expect(run.peakKb).toBeLessThan(MEMORY_CAP_KB);
  expect(run.written).toEqual([]);
}

describe('hostile input through the mirage CLI (child processes, memory cap, no writes)', { timeout: 180_000 }, () => {
  it('validate: a FIFO shard ends with an error instead of hanging', async () => {
    const { dir, manifest } = await writeTinyBundle();
    const shard = manifest.shards[0].path;
    unlinkSync(join(dir, shard));
    execFileSync('mkfifo', [join(dir, shard)]);
    const run = mirage(() => ['validate', '--quiet', dir]);
    expectRefused(run, new RegExp(`${shard.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is a FIFO \\(named pipe\\); refused`));
  });

  it('ridge fit: NaN betas (npy/betas_nan.npy) are refused at (2, 4); nothing written', () => {
    const run = mirage((w) => ['ridge', 'fit', '--betas', hostilePath('npy/betas_nan.npy'), '--targets', hostilePath('npy/targets_ok.npy'), '--alpha', '1', '--rank', '2', '--out', join(w, 'out')]);
    expectRefused(run, /betas_nan\.npy: betas: non-finite value \(NaN\) at element \(2, 4\); refused/);
  });

  it('ridge fit: infinite targets (npy/targets_inf.npy) are refused at (7, 0)', () => {
    const run = mirage((w) => ['ridge', 'fit', '--betas', hostilePath('npy/betas_ok.npy'), '--targets', hostilePath('npy/targets_inf.npy'), '--alpha', '1', '--rank', '2', '--out', join(w, 'out')]);
    expectRefused(run, /targets_inf\.npy: targets: non-finite value \(Infinity\) at element \(7, 0\); refused/);
  });

  it('import nsd-betas: external storage in /etc/passwd (hdf5/external_storage_passwd.hdf5) is refused; the bundle never holds its bytes', async () => {
    const { dir } = await writeTinyBundle();
    const run = mirage((w) => ['import', 'nsd-betas', '--quiet', '--hdf5', hostilePath('hdf5/external_storage_passwd.hdf5'), '--subject', '1', '--into', dir, '--out', join(w, 'out')]);
    expectRefused(run, /external_storage_passwd\.hdf5: betas: .*refers to \/etc\/passwd outside itself.*refused/);
    expect(run.output).not.toContain(readFileSync('/etc/passwd', 'utf8').slice(0, 12));
  });

  it('import recons: NaN pixels (torch/recons_nan.pt) are refused at (1, 0, 2, 5, 6)', async () => {
    const { dir } = await writeTinyBundle();
    const run = mirage((w) => ['import', 'recons', '--quiet', '--dir', hostilePath('torch/recons_nan.pt'), '--method', 'm', '--subject', '1', '--condition', 'imagery', '--into', dir, '--out', join(w, 'out')]);
    expectRefused(run, /recons_nan\.pt: reconstructions: non-finite pixel \(NaN\) at element \(1, 0, 2, 5, 6\); refused/);
  });

  // One FIFO per command that reads a whole input file (src/node/files.ts readRegularFile): opening a
  // FIFO for reading blocks until a writer comes, so a command that does not stat first hangs here
  // and the 60 s spawn timeout turns the hang into a failure. The FIFO lives outside the working
  // folder, so "nothing written" still means nothing.
  const fifoDir = mkdtempSync(join(tmpdir(), 'mirage-hostile-fifo-'));
  made.push(fifoDir);
  /** A FIFO at fifoDir/<name>; run-stage's gets its own folder (it reads every .npy there). */
  const fifo = (name: string): string => {
    const p = join(fifoDir, name);
    execFileSync('mkdir', ['-p', join(p, '..')]);
    if (!existsSync(p)) execFileSync('mkfifo', [p]);
    return p;
  };
  /** One reconstruction PNG for eval's --recons (subject 1, imagery, stimulus 0, rep 0). */
  const reconsDir = (): string => {
    const d = join(fifoDir, 'recons');
    execFileSync('mkdir', ['-p', d]);
    copyFileSync(join(ROOT, 'test/fixtures/evaluate/png/rgb_fast.png'), join(d, '1_imagery_0_0.png'));
    return d;
  };
  let tiny = '';
  beforeAll(async () => {
    tiny = (await writeTinyBundle()).dir;
  });
  it.each<[string, (w: string) => string[], string]>([
    ['eval <out>/results.csv (an earlier run\'s, read to resume)', () => ['eval', '--bundle', tiny, '--recons', reconsDir(), '--out', join(fifo('eval/results.csv'), '..')], 'results.csv'],
    ['features --images', (w) => ['features', '--models', join(w, 'no-pack'), '--model', 'clip', '--images', fifo('image.png'), '--out', join(w, 'f.npy'), '--quiet'], 'image.png'],
    ['lowlevel --latents', (w) => ['lowlevel', '--models', join(w, 'no-pack'), '--latents', fifo('latents.npy'), '--out', join(w, 'o.png')], 'latents.npy'],
    ['run-stage --inputs/<role>.npy', (w) => ['run-stage', '--models', join(w, 'no-pack'), '--stage', 'imageEncoder', '--inputs', join(fifo('inputs/pixel_values.npy'), '..'), '--out', join(w, 'out')], 'pixel_values.npy'],
    ['ridge fit --betas', (w) => ['ridge', 'fit', '--betas', fifo('betas.npy'), '--targets', hostilePath('npy/targets_ok.npy'), '--alpha', '1', '--rank', '2', '--out', join(w, 'out')], 'betas.npy'],
    ['ridge fit --targets', (w) => ['ridge', 'fit', '--betas', hostilePath('npy/betas_ok.npy'), '--targets', fifo('targets.npy'), '--alpha', '1', '--rank', '2', '--out', join(w, 'out')], 'targets.npy'],
    ['pack clip --checkpoint <file>', (w) => ['pack', 'clip', '--checkpoint', fifo('model.safetensors'), '--out', join(w, 'p'), '--quiet'], 'model.safetensors'],
    ['pack clip --checkpoint <folder>/model.safetensors', (w) => ['pack', 'clip', '--checkpoint', join(fifo('hf/model.safetensors'), '..'), '--out', join(w, 'p'), '--quiet'], 'model.safetensors'],
    ['import recons --captions', (w) => ['import', 'recons', '--quiet', '--dir', hostilePath('torch/recons_nan.pt'), '--method', 'm', '--subject', '1', '--condition', 'imagery', '--captions', fifo('captions.txt'), '--out', join(w, 'out')], 'captions.txt'],
    ['metrics --gt', () => ['metrics', '--gt', fifo('gt.png'), '--recon', join(ROOT, 'test/fixtures/evaluate/png/rgb_fast.png')], 'gt.png'],
  ])('%s: a FIFO is refused at once, naming the file', (_, args, name) => {
    const run = mirage(args, 60_000);
    expectRefused(run, new RegExp(`${name.replace('.', '\\.')}: (--\\w+: )?is a FIFO \\(named pipe\\); refused`));
  });
});

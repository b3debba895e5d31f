// Ctrl-C and SIGKILL against the real CLI (issue 16 item 5): an interrupted `mirage import recons`
// exits 130 with one line and leaves no output and no temporary folder; the temporary folder a
// killed run leaves behind is removed (process gone) or reported (process alive) by the next run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importNsdImagery } from '../../../src/core/importers/nsdImagery.ts';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { cleanLeftovers, writeAtomically, type LeftoverNote } from '../../../src/node/atomic.ts';
import { fsTree } from '../../../src/node/files.ts';
import { runImport } from '../../../src/node/importRun.ts';
import { baseProvenance } from '../../../src/node/provenance.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const NSD = join(ROOT, 'test', 'fixtures', 'formats', 'nsd');
const STIMULI = 18;
const REPS = 6;

let dir: string;
let base: string;
let pngs: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mirage-interrupt-'));
  base = join(dir, 'base');
  await runImport({ out: base, quiet: true, build: (writer) => importNsdImagery({ tree: fsTree(NSD), subject: 1, writer, provenance: baseProvenance('test', 'fixture') }) });
  // Enough noisy PNGs (<stimulus>/<rep>.png) that the import is still decoding when the signal lands.
  pngs = join(dir, 'pngs');
  let s = 7;
  for (let st = 0; st < STIMULI; st++) {
    mkdirSync(join(pngs, String(st)), { recursive: true });
    for (let r = 0; r < REPS; r++) {
      const px = Uint8Array.from({ length: 96 * 96 * 3 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24);
      writeFileSync(join(pngs, String(st), `${r}.png`), encodePng(px, 96, 96, 3));
    }
  }
}, 120_000);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mirage import recons` into `out`; `interrupt` is sent when the first progress line appears. */
function importRecons(out: string, interrupt: NodeJS.Signals | null): Promise<Run> {
  const args = ['bin/mirage.js', 'import', 'recons', '--dir', pngs, '--method', 'noise', '--subject', '1', '--condition', 'vision', '--into', base, '--out', out];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    // The progress bar prints plain "import: N% reconstructions" lines when stderr is not a terminal.
    if (interrupt && !sent && /^import: \d+% reconstructions/m.test(stderr)) {
      sent = true;
      child.kill(interrupt);
    }
  });
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

/** The pid of a process that has exited (a leftover's owner that is gone). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const siblings = (out: string) => readdirSync(join(out, '..')).filter((n) => n.startsWith(`${out.split('/').pop()}.`));

describe('interrupts', () => {
  it('Ctrl-C during `import recons`: exit 130, one line, no output folder, no temporary left', async () => {
    const out = join(dir, 'interrupted');
    const r = await importRecons(out, 'SIGINT');
    expect(r.code).toBe(130);
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('mirage: interrupted (Ctrl-C); stopped before writing any output');
    expect(lines.filter((l) => /interrupted/.test(l))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.stdout).not.toMatch(/wrote/);
    expect(existsSync(out)).toBe(false);
    expect(siblings(out)).toEqual([]);
  }, 120_000);

  it('SIGTERM (a scheduler stopping the job): exit 143, one line, nothing written', async () => {
    const out = join(dir, 'terminated');
    const r = await importRecons(out, 'SIGTERM');
    expect(r.code).toBe(143);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('mirage: interrupted (SIGTERM); stopped before writing any output');
    expect(existsSync(out)).toBe(false);
    expect(siblings(out)).toEqual([]);
  }, 120_000);

  it('a killed run\'s <out>.tmp-<pid> folder is removed by the next run into the same output, and said', async () => {
    const out = join(dir, 'after-kill');
    const pid = deadPid();
    const leftover = `${out}.tmp-${pid}`;
    mkdirSync(join(leftover, 'recons'), { recursive: true });
    writeFileSync(join(leftover, 'manifest.json'), '{"half": "written"}');
    const r = await importRecons(out, null);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`note: removed ${leftover}, left by an interrupted run (process ${pid} is gone)`);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    expect(siblings(out)).toEqual([]);
  }, 120_000);

  it('a leftover whose process still runs is reported and kept; a gone one (timestamped name) is removed', async () => {
    const out = join(dir, 'concurrent');
    const alive = `${out}.tmp-${process.ppid}-1700000000000`;
    const gone = `${out}.tmp-${deadPid()}-1700000000000`;
    mkdirSync(alive);
    mkdirSync(gone);
    const notes: LeftoverNote[] = [];
    await writeAtomically(out, async (sink) => sink.write('a.txt', new Uint8Array([1])), { onLeftover: (n) => notes.push(n) });
    expect(notes.map((n) => [n.path, n.action]).sort()).toEqual([[alive, 'kept'], [gone, 'removed']].sort());
    expect(existsSync(alive)).toBe(true);
    expect(existsSync(gone)).toBe(false);
    expect(readdirSync(out)).toEqual(['a.txt']);
    // Unrelated names next to the output are never touched.
    mkdirSync(`${out}.tmp-notapid`);
    mkdirSync(`${out}x.tmp-1`);
    expect(await cleanLeftovers(out, () => {})).toEqual([{ path: alive, pid: process.ppid, action: 'kept' }]);
    expect(existsSync(`${out}.tmp-notapid`) && existsSync(`${out}x.tmp-1`)).toBe(true);
  });

  it('a run killed between its two renames: the previous output is put back, or dropped once replaced', async () => {
    const out = join(dir, 'renaming');
    const pid = deadPid();
    mkdirSync(`${out}.old-${pid}`);
    writeFileSync(join(`${out}.old-${pid}`, 'previous.txt'), 'v1');
    const notes = await cleanLeftovers(out, () => {});
    expect(notes).toEqual([{ path: `${out}.old-${pid}`, pid, action: 'restored' }]);
    expect(readdirSync(out)).toEqual(['previous.txt']);
    // With `out` in place, a stale .old- copy is only a leftover.
    mkdirSync(`${out}.old-${pid}`);
    expect((await cleanLeftovers(out, () => {})).map((n) => n.action)).toEqual(['removed']);
    expect(readdirSync(out)).toEqual(['previous.txt']);
    expect(siblings(out)).toEqual([]);
  });

  it('an aborted signal discards the output at the next write and never commits', async () => {
    const out = join(dir, 'aborted');
    const controller = new AbortController();
    await expect(
      writeAtomically(
        out,
        async (sink) => {
          await sink.write('first.bin', new Uint8Array(4));
          controller.abort();
          await sink.write('second.bin', new Uint8Array(4));
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow(/cancelled/);
    expect(existsSync(out)).toBe(false);
    expect(siblings(out)).toEqual([]);
    // Aborted after the last write: still nothing at `out`.
    const late = new AbortController();
    await expect(writeAtomically(out, async (sink) => void (await sink.write('x', new Uint8Array(1)), late.abort()), { signal: late.signal })).rejects.toThrow(/cancelled/);
    expect(existsSync(out)).toBe(false);
  });
});

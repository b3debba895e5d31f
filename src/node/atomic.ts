// The one atomic writer of the Node side (CLI commands, benches, tests): output is written into a
// temporary sibling (`<out>.tmp-<pid>-<time>`) and renamed into place only when it is complete, so
// a failed, interrupted (Ctrl-C) or killed run never leaves a half-written bundle or file at `out`.
//
// A SIGKILL cannot be caught, so its temporary sibling stays on disk; the next run into the same
// output finds it by name, and removes it when the process that made it (the pid in the name) is
// gone, or reports it when that process still runs (a concurrent run, or a reused pid).
import { rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AbortError, throwIfAborted } from '../core/base/errors.ts';
import type { ShardSink } from '../core/bundle/writer.ts';

export interface AtomicOptions {
  /** Aborting it (Ctrl-C) discards the output at the next write, and always before the rename. */
  signal?: AbortSignal;
  /** Told about leftovers of an earlier killed run (default: one line on stderr). */
  onLeftover?: (note: LeftoverNote) => void;
}

export interface LeftoverNote {
  path: string;
  pid: number;
  /**
   * 'removed': its process is gone; 'kept': a process with that pid still runs; 'restored': the
   * previous output, moved aside by a run killed while renaming, put back at `out`.
   */
  action: 'removed' | 'kept' | 'restored';
}

// Temporaries of this process still in flight: removed synchronously if the process exits before
// they are renamed or aborted (process.exit after a second Ctrl-C, an uncaught error).
const inFlight = new Set<string>();
let exitHookInstalled = false;

function track(tmp: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', removeInFlightSync);
  }
  inFlight.add(tmp);
}

/** Removes every temporary of this process that is still in flight (synchronous: safe in 'exit'). */
export function removeInFlightSync(): void {
  for (const p of inFlight) rmSync(p, { recursive: true, force: true });
  inFlight.clear();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Finds `<out>.tmp-<pid>[-<time>]` and `<out>.old-<pid>` siblings left by runs that were killed,
 * removes those whose process is gone (or, for an `.old-` one when `out` is missing, puts the
 * previous output back) and reports each one. Returns what was found.
 */
export async function cleanLeftovers(out: string, onLeftover: (note: LeftoverNote) => void = printLeftover): Promise<LeftoverNote[]> {
  const full = resolve(out);
  const dir = dirname(full);
  const re = new RegExp(`^${escapeRe(basename(full))}\\.(tmp|old)-(\\d+)(?:-\\d+)?$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // no parent folder yet: nothing can be left over
  }
  const notes: LeftoverNote[] = [];
  for (const name of names.sort()) {
    const m = re.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const pid = Number(m[2]);
    if (inFlight.has(path)) continue; // ours, being written right now
    const alive = pid === process.pid || pidAlive(pid);
    let action: LeftoverNote['action'] = alive ? 'kept' : 'removed';
    if (!alive && m[1] === 'old' && !(await exists(full))) {
      await rename(path, full);
      action = 'restored';
    } else if (!alive) {
      await rm(path, { recursive: true, force: true });
    }
    const note: LeftoverNote = { path, pid, action };
    notes.push(note);
    onLeftover(note);
  }
  return notes;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function printLeftover(n: LeftoverNote): void {
  process.stderr.write(
    n.action === 'removed'
      ? `note: removed ${n.path}, left by an interrupted run (process ${n.pid} is gone)\n`
      : n.action === 'restored'
        ? `note: restored the previous output from ${n.path} (a run was killed while replacing it)\n`
        : `warning: ${n.path} belongs to process ${n.pid}, which still runs (another run into the same output?); left in place\n`,
  );
}

/** A ShardSink into `<out>.tmp-<pid>-<time>`; commit() renames it to `out` (replacing what was there). */
export class AtomicFolderSink implements ShardSink {
  readonly out: string;
  readonly tmp: string;
  private readonly signal?: AbortSignal;
  constructor(out: string, opts: { signal?: AbortSignal } = {}) {
    this.out = resolve(out);
    this.tmp = `${this.out}.tmp-${process.pid}-${Date.now()}`;
    this.signal = opts.signal;
    track(this.tmp);
  }
  async write(path: string, bytes: Uint8Array): Promise<void> {
    throwIfAborted(this.signal);
    const file = join(this.tmp, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
  /** Replaces `out` with the finished folder (refused once the signal has fired). */
  async commit(): Promise<void> {
    throwIfAborted(this.signal);
    await mkdir(dirname(this.out), { recursive: true });
    await mkdir(this.tmp, { recursive: true }); // an empty output is still an output
    const old = `${this.out}.old-${process.pid}`;
    let moved = false;
    try {
      // Not tracked for removal at exit: until the rename below, `old` is the only copy of the
      // previous output (a run killed here leaves it for cleanLeftovers to put back).
      await rename(this.out, old);
      moved = true;
    } catch {
      /* no previous output */
    }
    try {
      await rename(this.tmp, this.out);
    } catch (e) {
      if (moved) await rename(old, this.out); // put the previous output back
      throw e;
    }
    inFlight.delete(this.tmp);
    if (moved) await rm(old, { recursive: true, force: true });
  }
  async abort(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true });
    inFlight.delete(this.tmp);
  }
}

/**
 * Runs `build` against an atomic folder sink: leftovers of killed runs into `out` are cleaned (or
 * reported) first; on success the folder is renamed into place, on failure or abort it is removed.
 */
export async function writeAtomically<T>(out: string, build: (sink: AtomicFolderSink) => Promise<T>, opts: AtomicOptions = {}): Promise<T> {
  await cleanLeftovers(out, opts.onLeftover);
  throwIfAborted(opts.signal);
  const sink = new AtomicFolderSink(out, { signal: opts.signal });
  try {
    const result = await build(sink);
    await sink.commit();
    return result;
  } catch (e) {
    await sink.abort();
    throw opts.signal?.aborted && !(e instanceof AbortError) ? new AbortError() : e;
  }
}

/** Writes one file atomically (same temporary naming, same leftover handling as folders). */
export async function writeFileAtomically(file: string, bytes: Uint8Array | string, opts: AtomicOptions = {}): Promise<void> {
  await cleanLeftovers(file, opts.onLeftover);
  throwIfAborted(opts.signal);
  const full = resolve(file);
  await mkdir(dirname(full), { recursive: true });
  const tmp = `${full}.tmp-${process.pid}-${Date.now()}`;
  track(tmp);
  try {
    await writeFile(tmp, bytes);
    throwIfAborted(opts.signal);
    await rename(tmp, full);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    inFlight.delete(tmp);
  }
}

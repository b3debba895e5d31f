// Cooperative yielding for long loops. An `await` on an already-settled promise only runs
// microtasks: timers, I/O and Node's signal handlers (the CLI's Ctrl-C, src/node/interrupt.ts) and
// the page's messages wait until the whole loop returns. A loop that calls the function
// yieldEvery() returns once per step gives the event loop one macrotask turn at most every `ms`
// milliseconds, then throws AbortError if the signal was aborted meanwhile, so Ctrl-C or a
// cancel button stops the work within about `ms` plus one step.
import { throwIfAborted } from './errors.ts';

/** One macrotask turn (setTimeout 0: Node and browsers both have it; queueMicrotask would not do). */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A per-loop ticker: `await tick()` each step. It checks `signal` on every call (cheap) and yields
 * to the event loop when `ms` have passed since the last yield, so a fast step costs one clock read.
 */
export function yieldEvery(ms: number, signal?: AbortSignal): () => Promise<void> {
  if (!(ms > 0)) throw new RangeError(`yieldEvery: ms must be positive, got ${ms}`);
  let last = performance.now();
  return async () => {
    throwIfAborted(signal);
    if (performance.now() - last < ms) return;
    await nextMacrotask();
    last = performance.now();
    throwIfAborted(signal);
  };
}

/** How often the core's long loops yield: well under the ~1 s a Ctrl-C may take to stop a run. */
export const YIELD_MS = 50;

import { describe, expect, it } from 'vitest';
import { AbortError } from '../../../src/core/base/errors.ts';
import { yieldEvery } from '../../../src/core/base/yield.ts';

/** A synchronous step that holds the thread for at least `ms` (what a long kernel call does). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('yieldEvery', () => {
  it('lets a pending timer run between steps that each outlast the interval', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const tick = yieldEvery(5);
    busy(6);
    expect(fired).toBe(false); // a synchronous loop alone would never let it run
    await tick();
    expect(fired).toBe(true);
  });

  it('does not yield before the interval has passed (the timer waits)', async () => {
    let fired = false;
    const tick = yieldEvery(60_000);
    setTimeout(() => (fired = true), 0);
    for (let i = 0; i < 100; i++) await tick();
    expect(fired).toBe(false);
  });

  it('stops the loop with AbortError once the signal is aborted, also by a timer during a yield', async () => {
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 0);
    const tick = yieldEvery(5, ctl.signal);
    let steps = 0;
    const run = async () => {
      for (;;) {
        busy(6);
        steps++;
        await tick();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(AbortError);
    expect(steps).toBe(1);
    await expect(yieldEvery(5, ctl.signal)()).rejects.toBeInstanceOf(AbortError);
  });

  it('refuses a non-positive interval', () => {
    expect(() => yieldEvery(0)).toThrow(/positive/);
  });
});

// Issue 17: the whole-stimulus-set run shared the generate worker with manual runs, and a manual
// reconstruction cancelled the set's item in flight. The page queues reconstructions
// (src/app/reconstruct/runQueue.ts): a fake worker that, like the real one, aborts its running job
// when cancel() is called or a second job arrives shows that neither side loses work.
import { describe, expect, it } from 'vitest';
import { ReconstructionQueue } from '../../../src/app/reconstruct/runQueue.ts';
import { AbortError } from '../../../src/core/base/errors.ts';

/** A worker with the real one's rule: one job; a new call or cancel() aborts the one in flight. */
class FakeWorker {
  readonly log: string[] = [];
  private current: { name: string; finish: () => void; abort: () => void } | null = null;

  run(name: string): Promise<string> {
    this.current?.abort();
    this.log.push(`start ${name}`);
    return new Promise<string>((resolve, reject) => {
      this.current = {
        name,
        finish: () => {
          this.current = null;
          this.log.push(`done ${name}`);
          resolve(`image of ${name}`);
        },
        abort: () => {
          this.current = null;
          this.log.push(`aborted ${name}`);
          reject(new AbortError());
        },
      };
    });
  }
  cancel(): void {
    this.current?.abort();
  }
  /** Finishes the job in flight (and lets the queue start the next). */
  async finish(): Promise<string> {
    const c = this.current;
    if (!c) throw new Error('nothing running');
    c.finish();
    await new Promise((r) => setTimeout(r, 0));
    return c.name;
  }
  running(): string | null {
    return this.current?.name ?? null;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('ReconstructionQueue', () => {
  it("a manual run waits for the set run's item in flight, then the set goes on", async () => {
    const w = new FakeWorker();
    const q = new ReconstructionQueue<string, string>((n) => w.run(n), () => w.cancel());
    const set1 = q.submit('set', 'set item 1');
    await settle();
    const manual = q.submit('manual', 'manual run');
    await settle();
    expect(w.running()).toBe('set item 1'); // not cancelled by the manual run
    expect(q.state()).toEqual({ running: 'set', waiting: ['manual'] });
    await w.finish();
    await expect(set1).resolves.toBe('image of set item 1');
    const set2 = q.submit('set', 'set item 2'); // the set's next item queues behind the manual run
    expect(w.running()).toBe('manual run');
    await w.finish();
    await expect(manual).resolves.toBe('image of manual run');
    expect(w.running()).toBe('set item 2');
    await w.finish();
    await expect(set2).resolves.toBe('image of set item 2');
    expect(w.log.filter((l) => l.startsWith('aborted'))).toEqual([]);
  });

  it("cancel(owner) stops only that owner's jobs", async () => {
    const w = new FakeWorker();
    const q = new ReconstructionQueue<string, string>((n) => w.run(n), () => w.cancel());
    const set1 = q.submit('set', 'set item');
    const manual = q.submit('manual', 'manual run');
    await settle();
    q.cancel('manual'); // queued: rejected at once, the set item runs on
    await expect(manual).rejects.toBeInstanceOf(AbortError);
    expect(w.running()).toBe('set item');
    q.cancel('set'); // running: the worker aborts it
    await expect(set1).rejects.toBeInstanceOf(AbortError);
    expect(w.log).toEqual(['start set item', 'aborted set item']);
  });

  it("a new request of the same owner supersedes its previous one (a second click on Reconstruct)", async () => {
    const w = new FakeWorker();
    const q = new ReconstructionQueue<string, string>((n) => w.run(n), () => w.cancel());
    const first = q.submit('manual', 'first');
    await settle();
    const second = q.submit('manual', 'second');
    await expect(first).rejects.toBeInstanceOf(AbortError);
    await settle();
    expect(w.running()).toBe('second');
    await w.finish();
    await expect(second).resolves.toBe('image of second');
  });
});

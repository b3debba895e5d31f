// The generate worker runs one reconstruction at a time and a new call cancels the one in flight.
// Three parts of the page ask it for reconstructions: the Reconstruction tab (manual runs), the
// Evaluation tab's whole-stimulus-set run and the cortex panel's perturbed reconstruction. Sent
// straight to the worker, a manual run cancelled the set run's item in flight (its work lost, the
// set short of one reconstruction). This queue hands the worker one job at a time, first come first
// served; each owner's new request supersedes only that owner's previous one, and cancel(owner)
// stops only that owner's jobs.
import { AbortError } from '../../core/base/errors.ts';

export type RunOwner = 'manual' | 'set' | 'cortex';

interface Job<Req, Res> {
  owner: RunOwner;
  req: Req;
  resolve: (r: Res) => void;
  reject: (e: unknown) => void;
}

export class ReconstructionQueue<Req, Res> {
  private readonly waiting: Job<Req, Res>[] = [];
  private running: Job<Req, Res> | null = null;

  /**
   * `run`: sends one job to the worker (never called while another is in flight);
   * `cancelRunning`: stops the job in flight (its run() promise then rejects).
   */
  constructor(
    private readonly run: (req: Req) => Promise<Res>,
    private readonly cancelRunning: () => unknown,
  ) {}

  /** Queues `req` for `owner` after cancelling that owner's earlier job (queued or running). */
  submit(owner: RunOwner, req: Req): Promise<Res> {
    this.cancel(owner);
    return new Promise<Res>((resolve, reject) => {
      this.waiting.push({ owner, req, resolve, reject });
      this.pump();
    });
  }

  /** Cancels `owner`'s jobs: queued ones reject with AbortError at once, the running one via the worker. */
  cancel(owner: RunOwner): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i].owner !== owner) continue;
      const [job] = this.waiting.splice(i, 1);
      job.reject(new AbortError());
    }
    if (this.running?.owner === owner) void Promise.resolve(this.cancelRunning()).catch(() => undefined);
  }

  /** Who is running and how many wait (for a status line). */
  state(): { running: RunOwner | null; waiting: RunOwner[] } {
    return { running: this.running?.owner ?? null, waiting: this.waiting.map((j) => j.owner) };
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    let out: Promise<Res>;
    try {
      out = this.run(job.req);
    } catch (e) {
      out = Promise.reject(e);
    }
    out.then(job.resolve, job.reject).finally(() => {
      this.running = null;
      this.pump();
    });
  }
}

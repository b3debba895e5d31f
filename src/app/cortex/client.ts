// Page-side client of workers/cortex.worker.ts: one worker per page, opened on the bundle the app
// has open. Updates are coalesced: while one stack is being computed, only the newest waiting one
// is sent next, so a dragged slider never queues stale work (the low-level re-decode is part of
// the same call, so it follows the same newest-update-wins rule).
import { wrap, type Remote } from 'comlink';
import type { BundleLocation } from '../../state/bundleStore.ts';
import type { CortexUpdateWithLowLevel, CortexWorkerApi, Perturbation } from './api.ts';

let worker: Worker | null = null;
let remote: Remote<CortexWorkerApi> | null = null;
let openedFor: BundleLocation | null = null;
let opening: Promise<void> | null = null;

export function cortexClient(): Remote<CortexWorkerApi> {
  if (!remote) {
    worker = new Worker(new URL('../../../workers/cortex.worker.ts', import.meta.url), { type: 'module', name: 'mirage-cortex' });
    remote = wrap<CortexWorkerApi>(worker);
  }
  return remote;
}

/** Opens `location` in the cortex worker unless it already has it. */
export function ensureOpen(location: BundleLocation): Promise<void> {
  if (openedFor === location && opening) return opening;
  openedFor = location;
  opening = cortexClient().open(location.kind === 'url' ? { kind: 'url', url: location.url } : { kind: 'files', label: location.label, files: location.files });
  return opening;
}

/** Sends stacks to the worker one at a time, always the latest. */
export class StackUpdater {
  private busy = false;
  private waiting: Perturbation[] | null = null;
  constructor(private readonly onUpdate: (u: CortexUpdateWithLowLevel, stack: Perturbation[]) => void, private readonly onError: (e: unknown) => void) {}

  push(stack: Perturbation[]): void {
    this.waiting = stack;
    if (!this.busy) void this.run();
  }

  private async run(): Promise<void> {
    while (this.waiting) {
      const s = this.waiting;
      this.waiting = null;
      this.busy = true;
      try {
        this.onUpdate(await cortexClient().setStack(s), s);
      } catch (e) {
        this.onError(e);
      } finally {
        this.busy = false;
      }
    }
  }
}

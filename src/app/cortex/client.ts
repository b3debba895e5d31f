// Page-side client of workers/cortex.worker.ts: one worker per page, opened on the bundle the app
// has open. Updates are coalesced: while one stack is being computed, only the newest waiting one
// is sent next, so a dragged slider never queues stale work (the low-level re-decode is part of
// the same call, so it follows the same newest-update-wins rule).
import { wrap, type Remote } from 'comlink';
import type { BundleLocation } from '../../state/bundleStore.ts';
import type { CortexUpdateWithLowLevel, CortexWorkerApi, Perturbation } from '../../core/cortex/protocol.ts';

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

/**
 * Sends stacks to the worker one at a time, always the latest, and reports each result (or the
 * error of the latest attempt) to `onResult` — the panel's hook writes it into the cortex store.
 */
export class StackUpdater {
  private busy = false;
  private waiting: { stack: Perturbation[]; key: string } | null = null;

  /** `key` names what the worker's trials were set for when the stack was sent; the result carries it. */
  constructor(private readonly onResult: (r: { update: CortexUpdateWithLowLevel; key: string } | { error: unknown }) => void) {}

  push(stack: Perturbation[], key: string): void {
    this.waiting = { stack, key };
    if (!this.busy) void this.run();
  }

  private async run(): Promise<void> {
    while (this.waiting) {
      const { stack, key } = this.waiting;
      this.waiting = null;
      this.busy = true;
      try {
        this.onResult({ update: await cortexClient().setStack(stack), key });
      } catch (e) {
        this.onResult({ error: e });
      } finally {
        this.busy = false;
      }
    }
  }
}

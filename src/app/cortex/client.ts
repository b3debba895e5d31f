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

/** The latest update (or the error of the latest attempt), as an external store for React. */
export interface UpdaterState {
  update: CortexUpdateWithLowLevel | null;
  stack: Perturbation[] | null;
  error: unknown;
}

/**
 * Sends stacks to the worker one at a time, always the latest, and holds the newest result. React
 * reads it with useSyncExternalStore (subscribe / getSnapshot), so no callback writes component
 * state or refs.
 */
export class StackUpdater {
  private busy = false;
  private waiting: Perturbation[] | null = null;
  private state: UpdaterState = { update: null, stack: null, error: null };
  private readonly listeners = new Set<() => void>();

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  readonly getSnapshot = (): UpdaterState => this.state;

  push(stack: Perturbation[]): void {
    this.waiting = stack;
    if (!this.busy) void this.run();
  }

  private set(state: UpdaterState): void {
    this.state = state;
    this.listeners.forEach((l) => l());
  }

  private async run(): Promise<void> {
    while (this.waiting) {
      const s = this.waiting;
      this.waiting = null;
      this.busy = true;
      try {
        this.set({ update: await cortexClient().setStack(s), stack: s, error: null });
      } catch (e) {
        this.set({ ...this.state, error: e });
      } finally {
        this.busy = false;
      }
    }
  }
}

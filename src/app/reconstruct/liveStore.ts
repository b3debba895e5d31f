// What changes many times a second while a reconstruction runs (the progress of the current stage,
// the live low-level images) lives outside React state: the worker's messages update this store and
// only the two small components that show it re-render, at most once per animation frame. Putting
// them in the panel's state re-rendered the whole panel (settings, results, candidate grid) on every
// progress message: 40-110 ms tasks on the page's main thread (React development build, 2-core VM).
import type { DisplayImage, GenerateProgress } from '../../core/generate/protocol.ts';

export interface LiveState {
  progress: GenerateProgress | null;
  live: { low: DisplayImage; enhanced: DisplayImage } | null;
}

export interface LiveStore {
  get(): LiveState;
  subscribe(listener: () => void): () => void;
  /** Merges `patch`; listeners are told once, at the next animation frame (coalesced). */
  update(patch: Partial<LiveState>): void;
  /** Back to nothing running; listeners are told now. */
  reset(): void;
}

const EMPTY: LiveState = { progress: null, live: null };

export function createLiveStore(): LiveStore {
  let state = EMPTY;
  let pending: LiveState | null = null;
  let frame = 0;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  const flush = () => {
    frame = 0;
    if (!pending) return;
    state = pending;
    pending = null;
    notify();
  };
  return {
    get: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    update(patch) {
      pending = { ...(pending ?? state), ...patch };
      if (!frame) frame = requestAnimationFrame(flush);
    },
    reset() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
      pending = null;
      state = EMPTY;
      notify();
    },
  };
}

/** The reconstruct panel's store (one panel per page). */
export const liveStore = createLiveStore();

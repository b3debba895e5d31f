// Hooks other panels use to follow the page: the open manifest and the resolved selection
// (which subject, stimulus and trial indices are shown, and whether repeats are averaged).
import { useDeferredValue, useMemo } from 'react';
import { useBundleStore } from './bundleStore.ts';
import { useSelectionStore } from './selectionStore.ts';
import { resolveSelection, type ResolvedSelection } from './selectors.ts';

export function useManifest() {
  return useBundleStore((s) => s.manifest);
}

export function useResolvedSelection(): ResolvedSelection | null {
  const manifest = useManifest();
  const subject = useSelectionStore((s) => s.subject);
  const stimulus = useSelectionStore((s) => s.stimulus);
  const condition = useSelectionStore((s) => s.condition);
  const trial = useSelectionStore((s) => s.trial);
  const repeats = useSelectionStore((s) => s.repeats);
  return useMemo(
    () => (manifest ? resolveSelection(manifest, { subject, stimulus, condition, trial, repeats, normalize: false, tab: 'trial' }) : null),
    [manifest, subject, stimulus, condition, trial, repeats],
  );
}

/**
 * The resolved selection for the heavy views (trial view, cortex panel): after a click React first
 * re-renders the light parts (the pressed pill or tile) and paints, then renders these in the
 * background (interruptible, in 5 ms slices) instead of in the click's own task. Zustand's store
 * updates are always synchronous renders, so a transition around set() would not do this.
 */
export function useDeferredSelection(): ResolvedSelection | null {
  return useDeferredValue(useResolvedSelection());
}

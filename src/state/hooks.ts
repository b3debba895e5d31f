// Hooks other panels use to follow the page: the open manifest and the resolved selection
// (which subject, stimulus and trial indices are shown, and whether repeats are averaged).
import { useMemo } from 'react';
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

// The cortex panel's traffic with workers/cortex.worker.ts, as hooks: each effect asks the worker
// one thing and writes the reply into the cortex store (src/state/cortexStore.ts), tagged with the
// selection it was asked for. Components read the store; none of them talks to the worker.
import { useEffect, useState } from 'react';
import type { BundleLocation } from '../../state/bundleStore.ts';
import { toAppError } from '../../state/bundleStore.ts';
import { useCortexStore, viewFor } from '../../state/cortexStore.ts';
import type { RoiInfo } from '../../core/cortex/protocol.ts';
import { StackUpdater, cortexClient, ensureOpen } from './client.ts';

/** What the worker's replies are tagged with. */
export interface CortexKeys {
  /** bundle|subject: the loaded surfaces and ROIs. */
  subject: string;
  /** bundle|subject#trials: the trials perturbed (updates, overlays and lesions depend on it). */
  trials: string;
  /** localStorage key of the user's drawn ROIs for this bundle and subject. */
  storage: string;
}

export function cortexKeys(location: BundleLocation, bundleName: string, subjectId: number, trials: number[]): CortexKeys {
  const subject = `${location.kind === 'url' ? location.url : location.label}|${subjectId}`;
  return { subject, trials: `${subject}#${trials.join(',')}`, storage: `mirage.cortex.rois.${bundleName}.${subjectId}` };
}

const fail = (e: unknown) => useCortexStore.getState().set({ error: toAppError('cortex', e).message });

/**
 * Opens the bundle and the subject in the worker (with the user's saved ROIs), then sets the trials.
 * Returns whether the worker is ready for `keys.trials`.
 */
export function useCortexSession(location: BundleLocation, subjectId: number, trials: number[], keys: CortexKeys): boolean {
  const view = useCortexStore((s) => viewFor(s, keys.subject));
  const ready = useCortexStore((s) => s.readyFor === keys.trials);

  useEffect(() => {
    let live = true;
    (async () => {
      await ensureOpen(location);
      const v = await cortexClient().loadSubject(subjectId);
      let rois = v.rois;
      const saved = localStorage.getItem(keys.storage);
      if (saved) {
        try {
          rois = await cortexClient().importRois(saved, 'saved ROIs (localStorage)');
        } catch (e) {
          fail(e);
        }
      }
      if (live) useCortexStore.getState().set({ loaded: { key: keys.subject, view: v, rois } });
    })().catch(fail);
    return () => {
      live = false;
    };
  }, [location, subjectId, keys.subject, keys.storage]);

  const trialList = trials.join(',');
  useEffect(() => {
    if (!view) return;
    let live = true;
    cortexClient()
      .setTrials(trialList.split(',').map(Number))
      .then(() => live && useCortexStore.getState().set({ readyFor: keys.trials }))
      .catch(fail);
    return () => {
      live = false;
    };
  }, [view, trialList, keys.trials]);

  return view !== null && ready;
}

/**
 * Sends the perturbation stack to the worker whenever it changes (newest wins, see StackUpdater)
 * and stores each update with the trials key it was computed for.
 */
export function useStackUpdates(ready: boolean, trialsKey: string): void {
  const stack = useCortexStore((s) => s.stack);
  const [updater] = useState(
    () =>
      new StackUpdater((r) => {
        if ('update' in r) useCortexStore.getState().set({ update: r.update, updateFor: r.key });
        else fail(r.error);
      }),
  );
  useEffect(() => {
    if (ready) updater.push(stack, trialsKey);
  }, [ready, stack, trialsKey, updater]);
}

/** The overlay's per-vertex values after each update or overlay change. */
export function useOverlayValues(ready: boolean, trialsKey: string): void {
  const overlay = useCortexStore((s) => s.overlay);
  const update = useCortexStore((s) => (s.updateFor === trialsKey ? s.update : null));
  useEffect(() => {
    if (!ready || !update) return;
    let live = true;
    cortexClient()
      .overlay(overlay)
      .then((values) => live && useCortexStore.getState().set({ overlayValues: { key: trialsKey, overlay, values } }))
      .catch(fail);
    return () => {
      live = false;
    };
  }, [ready, update, overlay, trialsKey]);
}

/** The lesion profile of the stimulus (its vision and imagery repeats), recomputed when ROIs change. */
export function useLesionProfile(ready: boolean, trialsKey: string, stimulus: number, rois: readonly RoiInfo[]): void {
  const lesionKey = `${trialsKey}|${stimulus}`;
  useEffect(() => {
    if (!ready) return;
    let live = true;
    cortexClient()
      .lesion(stimulus)
      .then((cells) => live && useCortexStore.getState().set({ lesion: { key: lesionKey, cells } }))
      .catch(fail);
    return () => {
      live = false;
    };
  }, [ready, stimulus, lesionKey, rois]);
}

/** Esc leaves presentation mode. */
export function useEscapeLeavesPresentation(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && useCortexStore.getState().presentation) useCortexStore.getState().set({ presentation: false });
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export { fail as reportCortexError };

/** Shows the ROIs after an edit and keeps them (all user ROIs, as the worker exports them) in localStorage. */
export async function saveRois(keys: CortexKeys, next: RoiInfo[]): Promise<void> {
  useCortexStore.getState().set({ roisEdited: { key: keys.subject, rois: next } });
  const file = await cortexClient().exportRois();
  localStorage.setItem(keys.storage, JSON.stringify(file));
}

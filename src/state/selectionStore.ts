// What the user is looking at: subject, stimulus, condition, trial and how many repeats to average.
// Everything here round-trips through the page URL (see url.ts), so a view can be shared as a link.
import { create } from 'zustand';

export type ViewCondition = 'vision' | 'imagery';
export type ViewTab = 'trial' | 'reconstruct' | 'evaluate';

export interface Selection {
  subject: number | null;
  stimulus: number | null;
  condition: ViewCondition;
  /** Index into manifest.trials of the trial shown; null = the first matching one. */
  trial: number | null;
  /** 1 = single trial; n > 1 = average of the first n repeats of the stimulus in this condition. */
  repeats: number;
  /** MIRAGE's prediction normalisation over the condition's stimuli (repeats averaged) in the trial view. */
  normalize: boolean;
  tab: ViewTab;
}

export interface SelectionState extends Selection {
  set(patch: Partial<Selection>): void;
  /** Resets what depends on the bundle (a new bundle has other subjects and trials). */
  reset(patch?: Partial<Selection>): void;
}

export const DEFAULT_SELECTION: Selection = {
  subject: null,
  stimulus: null,
  condition: 'vision',
  trial: null,
  repeats: 1,
  normalize: false,
  tab: 'trial',
};

export const useSelectionStore = create<SelectionState>()((set) => ({
  ...DEFAULT_SELECTION,
  set(patch) {
    set(patch);
  },
  reset(patch = {}) {
    set({ ...DEFAULT_SELECTION, ...patch });
  },
}));

export function currentSelection(): Selection {
  const s = useSelectionStore.getState();
  return {
    subject: s.subject,
    stimulus: s.stimulus,
    condition: s.condition,
    trial: s.trial,
    repeats: s.repeats,
    normalize: s.normalize,
    tab: s.tab,
  };
}

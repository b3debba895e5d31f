// Read-only questions about the open manifest and the selection (which trials match, which
// subject is decoded). Pure functions: unit-tested without a browser.
import type { Manifest, Stimulus, StimulusSet, Trial } from '../core/bundle/manifest.ts';
import type { Selection, ViewCondition } from './selectionStore.ts';

export function decodedSubjects(m: Manifest) {
  return m.subjects.filter((s) => s.role === 'decoded' && s.heads.length > 0);
}

export function stimuliBySet(m: Manifest): Array<{ set: StimulusSet; stimuli: Stimulus[] }> {
  const sets: StimulusSet[] = ['simple', 'complex', 'conceptual'];
  return sets.map((set) => ({ set, stimuli: m.stimuli.filter((s) => s.set === set).sort((a, b) => a.id - b.id) }));
}

/** Indices into manifest.trials of one subject's trials of a stimulus in a condition, by repeat. */
export function trialIndices(m: Manifest, subject: number, stimulus: number, condition: ViewCondition): number[] {
  const out: number[] = [];
  m.trials.forEach((t: Trial, i) => {
    if (t.subject === subject && t.stimulus === stimulus && t.condition === condition) out.push(i);
  });
  return out.sort((a, b) => m.trials[a].repeat - m.trials[b].repeat || a - b);
}

export interface ResolvedSelection {
  subject: number;
  stimulus: number;
  condition: ViewCondition;
  /** All matching trials (by repeat). */
  candidates: number[];
  /** The trials to decode: one trial, or the first `repeats` to average. */
  trials: number[];
  average: boolean;
  /** The single trial shown (the first of `trials`). */
  trial: number;
}

/**
 * Fills in the selection against a manifest: unknown subjects/stimuli fall back to the first
 * decoded subject / first stimulus; null when the bundle has no trial for it.
 */
export function resolveSelection(m: Manifest, sel: Selection): ResolvedSelection | null {
  const subjects = decodedSubjects(m);
  if (subjects.length === 0) return null;
  const subject = subjects.some((s) => s.id === sel.subject) ? sel.subject! : subjects[0].id;
  const stimulus = m.stimuli.some((s) => s.id === sel.stimulus) ? sel.stimulus! : (m.stimuli[0]?.id ?? 0);
  const candidates = trialIndices(m, subject, stimulus, sel.condition);
  if (candidates.length === 0) return null;
  const repeats = Math.max(1, Math.min(sel.repeats, candidates.length));
  if (repeats > 1) {
    const trials = candidates.slice(0, repeats);
    return { subject, stimulus, condition: sel.condition, candidates, trials, average: true, trial: trials[0] };
  }
  const trial = sel.trial !== null && candidates.includes(sel.trial) ? sel.trial : candidates[0];
  return { subject, stimulus, condition: sel.condition, candidates, trials: [trial], average: false, trial };
}

export function selectionKey(r: ResolvedSelection): string {
  return `${r.subject}|${r.average ? 'avg' : 'one'}|${r.trials.join(',')}`;
}

/**
 * The key of what the trial view decodes: the selection's trials, or, with MIRAGE normalisation,
 * the stimulus's row of the condition's normalised batch (independent of the trial/repeat controls).
 */
export function decodeKey(r: ResolvedSelection, normalize: boolean): string {
  return normalize ? `${r.subject}|norm|${r.condition}|${r.stimulus}` : selectionKey(r);
}

// "Audience" mode: MIRAGE's Experiment 1 run live in the room. Each trial shows a ground-truth image
// and two reconstructions by the same method and condition: one of that stimulus (target) and one of
// another stimulus (foil); the audience picks the closer one. Accuracy per method x condition comes
// with a Wilson 95% interval. Attention checks put the ground truth itself beside a foil: anyone
// attending gets them right, so their pass rate says whether the answers can be trusted.
// Everything here is pure and local: answers never leave the browser.
import type { EvalCondition } from './tables.ts';
import { mulberry32, type Uniform } from '../base/rng.ts';
import type { BinomialInterval } from './stats.ts';
import { wilsonInterval } from './stats.ts';

export interface AudienceCandidate {
  method: string;
  condition: EvalCondition;
  stimulus: number;
  repetition: number;
}

/** An image shown in a trial: a reconstruction, or the ground truth of a stimulus (attention checks). */
export type AudienceImage = { kind: 'recon'; candidate: AudienceCandidate } | { kind: 'gt'; stimulus: number };

export interface AudienceTrial {
  index: number;
  kind: 'test' | 'attention';
  method: string;
  condition: EvalCondition;
  /** the stimulus whose ground truth is shown on top */
  stimulus: number;
  left: AudienceImage;
  right: AudienceImage;
  /** which side is correct */
  correct: 'left' | 'right';
}

export interface AudienceAnswer {
  trial: number;
  choice: 'left' | 'right';
  /** milliseconds from showing the trial to the answer */
  ms: number;
}

function pick<T>(xs: T[], rng: Uniform): T {
  return xs[Math.floor(rng() * xs.length)];
}

function shuffle<T>(xs: T[], rng: Uniform): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Builds a seeded trial list: `perCell` test trials for each method x condition (targets cycle
 * through the stimuli, foils are random other stimuli of the same method/condition), plus one
 * attention check after every `attentionEvery` test trials. Sides are randomised.
 */
export function buildAudienceTrials(
  candidates: AudienceCandidate[],
  opts: { seed?: number; perCell?: number; attentionEvery?: number } = {},
): AudienceTrial[] {
  const rng = mulberry32(opts.seed ?? 1);
  const perCell = opts.perCell ?? 6;
  const every = opts.attentionEvery ?? 6;
  const cells = new Map<string, AudienceCandidate[]>();
  for (const c of candidates) {
    const k = `${c.method}|${c.condition}`;
    cells.set(k, [...(cells.get(k) ?? []), c]);
  }
  const tests: Omit<AudienceTrial, 'index'>[] = [];
  for (const list of cells.values()) {
    const stimuli = [...new Set(list.map((c) => c.stimulus))].sort((a, b) => a - b);
    if (stimuli.length < 2) continue; // a foil needs another stimulus
    const order = shuffle(stimuli, rng);
    for (let t = 0; t < perCell; t++) {
      const s = order[t % order.length];
      const target = pick(list.filter((c) => c.stimulus === s), rng);
      const foil = pick(list.filter((c) => c.stimulus !== s), rng);
      const targetLeft = rng() < 0.5;
      tests.push({
        kind: 'test',
        method: target.method,
        condition: target.condition,
        stimulus: s,
        left: { kind: 'recon', candidate: targetLeft ? target : foil },
        right: { kind: 'recon', candidate: targetLeft ? foil : target },
        correct: targetLeft ? 'left' : 'right',
      });
    }
  }
  const mixed = shuffle(tests, rng);
  const out: AudienceTrial[] = [];
  mixed.forEach((t, i) => {
    out.push({ ...t, index: out.length });
    if ((i + 1) % every === 0) {
      const foil = pick(candidates.filter((c) => c.stimulus !== t.stimulus), rng);
      const gtLeft = rng() < 0.5;
      const gt: AudienceImage = { kind: 'gt', stimulus: t.stimulus };
      const f: AudienceImage = { kind: 'recon', candidate: foil };
      out.push({
        index: out.length,
        kind: 'attention',
        method: foil.method,
        condition: foil.condition,
        stimulus: t.stimulus,
        left: gtLeft ? gt : f,
        right: gtLeft ? f : gt,
        correct: gtLeft ? 'left' : 'right',
      });
    }
  });
  return out;
}

export interface AudienceCell {
  method: string;
  condition: EvalCondition;
  interval: BinomialInterval;
}

export interface AudienceScore {
  cells: AudienceCell[];
  attention: { passed: number; total: number };
  /** test answers counted (attention checks excluded) */
  answered: number;
}

/** Accuracy per method x condition (test trials only), Wilson 95% intervals; attention pass rate. */
export function scoreAudience(trials: AudienceTrial[], answers: AudienceAnswer[]): AudienceScore {
  const byTrial = new Map(trials.map((t) => [t.index, t]));
  const counts = new Map<string, { method: string; condition: EvalCondition; k: number; n: number }>();
  let passed = 0;
  let total = 0;
  let answered = 0;
  for (const a of answers) {
    const t = byTrial.get(a.trial);
    if (!t) continue;
    const ok = a.choice === t.correct;
    if (t.kind === 'attention') {
      total++;
      if (ok) passed++;
      continue;
    }
    answered++;
    const key = `${t.method}|${t.condition}`;
    const c = counts.get(key) ?? { method: t.method, condition: t.condition, k: 0, n: 0 };
    c.n++;
    if (ok) c.k++;
    counts.set(key, c);
  }
  const cells = [...counts.values()].map((c) => ({ method: c.method, condition: c.condition, interval: wilsonInterval(c.k, c.n) }));
  return { cells, attention: { passed, total }, answered };
}

const imgLabel = (im: AudienceImage) =>
  im.kind === 'gt' ? `gt:${im.stimulus}` : `${im.candidate.method}:${im.candidate.condition}:${im.candidate.stimulus}:${im.candidate.repetition}`;

/** One row per answer: trial, kind, method, condition, stimulus, left, right, correct side, choice, correct (0/1), ms. */
export function audienceCsv(trials: AudienceTrial[], answers: AudienceAnswer[]): string {
  const byTrial = new Map(trials.map((t) => [t.index, t]));
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = ['trial,kind,method,condition,stimulus,left,right,correct_side,choice,correct,ms'];
  for (const a of answers) {
    const t = byTrial.get(a.trial);
    if (!t) continue;
    lines.push([t.index, t.kind, q(t.method), t.condition, t.stimulus, q(imgLabel(t.left)), q(imgLabel(t.right)), t.correct, a.choice, a.choice === t.correct ? 1 : 0, Math.round(a.ms)].join(','));
  }
  return lines.join('\n') + '\n';
}

// The cortex screen's lesion profile over a whole bundle (docs/simulation.md §13): for every decoded
// subject and every stimulus, CortexSession.lesion silences each bundle ROI in turn on every trial
// and measures how much each head's prediction changes (|Δ| / |prediction|, the screen's number).
// Printed per condition and head: the mean change from silencing the early ROIs (group "early") and
// the higher ones (group "higher"), and the higher areas' share of the two. Imagery "carried more by
// higher areas than vision" means that share is larger for imagery.
// --average: the same profile (lesionProfile, the screen's engine) on each stimulus's repeat-averaged
// pattern per condition, the input MIRAGE decodes, instead of on every single trial.
//   npx tsx scripts/lesion-profile.ts --bundle DIR [--heads image,text] [--average]
import { parseArgs } from 'node:util';
import { Bundle } from '../src/core/bundle/loader.ts';
import { CortexSession } from '../src/core/cortex/session.ts';
import { lesionProfile, type LesionCell, type LesionTrial } from '../src/core/cortex/lesion.ts';
import type { HeadName } from '../src/core/bundle/manifest.ts';
import { averageTrialBetas } from '../src/core/decode/trials.ts';
import { FsShardSource } from '../src/node/fsSource.ts';

const { values: o } = parseArgs({ options: { bundle: { type: 'string' }, heads: { type: 'string' }, average: { type: 'boolean', default: false } } });
if (!o.bundle) throw new Error('usage: --bundle DIR [--heads image,text,...]');
const bundle = await Bundle.open(new FsShardSource(o.bundle), { verify: 'sizes' });
const m = bundle.manifest;
const subjects = [...new Set(m.trials.map((t) => t.subject))];
const stimuli = [...new Set(m.trials.map((t) => t.stimulus))];
// sums[condition][head][group] = Σ relNorm over (subject, stimulus, ROI of the group), n = count
const sums = new Map<string, { sum: number; n: number }>();
const add = (key: string, v: number) => {
  const s = sums.get(key) ?? { sum: 0, n: 0 };
  s.sum += v;
  s.n++;
  sums.set(key, s);
};
const groupOf = new Map<string, string>();
let heads: HeadName[] = [];
for (const subject of subjects) {
  const session = await CortexSession.open(bundle, subject, o.heads ? { heads: o.heads.split(',') as HeadName[] } : {});
  heads = session.engine.headNames;
  for (const r of session.rois.list()) groupOf.set(r.name, r.group);
  for (const stimulus of stimuli) {
    const cells = o.average ? await averagedLesion(session, subject, stimulus) : await session.lesion(stimulus);
    for (const c of cells) add(`${c.condition}\u0000${c.head}\u0000${groupOf.get(c.roi)}`, c.relNorm);
  }
  console.error(`subject ${subject}: ${stimuli.length} stimuli`);
}
/** The lesion profile of one stimulus's repeat-averaged pattern in each condition. */
async function averagedLesion(session: CortexSession, subject: number, stimulus: number): Promise<LesionCell[]> {
  const trials: LesionTrial[] = [];
  for (const condition of ['vision', 'imagery'] as const) {
    const idx = m.trials.flatMap((t, i) => (t.subject === subject && t.stimulus === stimulus && t.condition === condition ? [i] : []));
    if (idx.length) trials.push({ condition, betas: await averageTrialBetas(bundle, idx) });
  }
  const rois = session.rois.list().filter((r) => r.source === 'bundle');
  return lesionProfile(session.engine, rois, session.engine.headNames, trials);
}
const mean = (k: string) => (sums.get(k)?.n ? sums.get(k)!.sum / sums.get(k)!.n : NaN);
console.log(`lesion profile of ${o.bundle}: subjects ${subjects.join(', ')}, ${stimuli.length} stimuli, ${o.average ? 'repeat-averaged patterns' : 'every trial'}; mean |Δ|/|prediction| per ROI`);
console.log('| condition | head | early ROIs | higher ROIs | higher share |');
console.log('|---|---|---|---|---|');
for (const cond of ['vision', 'imagery']) {
  for (const head of heads) {
    const e = mean(`${cond}\u0000${head}\u0000early`);
    const h = mean(`${cond}\u0000${head}\u0000higher`);
    console.log(`| ${cond} | ${head} | ${e.toFixed(3)} | ${h.toFixed(3)} | ${(h / (e + h)).toFixed(3)} |`);
  }
}

// Reconstructing a subject's whole stimulus set, vision and imagery, in the generate worker — what
// the Evaluation tab runs so that a bundle without reconstructions (the demo) gets its own point on
// the vision-vs-imagery scatter. One reconstruction at a time (queued with manual runs, which wait
// for the item in flight instead of cancelling it: runQueue.ts), MIRAGE's
// settings, progress per reconstruction and per stage, cancel between and inside runs. Finished
// reconstructions go to sessionRecons in one step at the end (also when cancelled or failed), so
// the evaluation starts once, not after every item.
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { GenerateProgress, GenerateSettings, ReconstructReply } from '../../core/generate/protocol.ts';
import type { BundleLocation } from '../../state/bundleStore.ts';
import type { GenerateDevice } from '../../state/generateDeviceStore.ts';
import { cancelReconstruction, defaultPack, ensureOpen, runReconstruction } from './client.ts';
import { sessionRecons } from './sessionRecons.ts';

export interface StimulusSetJob {
  subject: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
}

/**
 * Stimuli with a ground-truth image that `subject` has trials of in both conditions, as jobs
 * (vision then imagery per stimulus): conceptual stimuli have no image to score against.
 */
export function stimulusSetJobs(m: Manifest, subject: number): StimulusSetJob[] {
  const has = new Set(m.trials.filter((t) => t.subject === subject).map((t) => `${t.stimulus}|${t.condition}`));
  return m.stimuli
    .filter((s) => s.image && has.has(`${s.id}|vision`) && has.has(`${s.id}|imagery`))
    .sort((a, b) => a.id - b.id)
    .flatMap((s) => (['vision', 'imagery'] as const).map((condition) => ({ subject, stimulus: s.id, condition })));
}

export interface StimulusSetProgress {
  done: number;
  total: number;
  /** e.g. "stimulus 3, imagery — prior 12/20" */
  label: string;
  /** overall fraction, the running reconstruction's stages included */
  fraction: number;
}

export interface StimulusSetOptions {
  location: BundleLocation;
  device: GenerateDevice;
  settings?: Partial<GenerateSettings>;
  signal?: AbortSignal;
  onProgress?: (p: StimulusSetProgress) => void;
}

/** Runs every job; resolves with the replies made (fewer than the jobs when cancelled). */
export async function reconstructStimulusSet(jobs: StimulusSetJob[], opts: StimulusSetOptions): Promise<{ replies: ReconstructReply[]; cancelled: boolean }> {
  const replies: ReconstructReply[] = [];
  const total = jobs.length;
  const onAbort = () => cancelReconstruction('set');
  opts.signal?.addEventListener('abort', onAbort);
  try {
    await ensureOpen(opts.location, defaultPack(opts.location), opts.device);
    for (const [i, job] of jobs.entries()) {
      if (opts.signal?.aborted) return { replies, cancelled: true };
      const what = `stimulus ${job.stimulus}, ${job.condition}`;
      opts.onProgress?.({ done: i, total, label: what, fraction: i / total });
      // a stage message can arrive after its reply (another MessagePort): ignored once the run is over
      let live = true;
      const stage = (p: GenerateProgress) => {
        if (!live) return;
        const inRun = (p.stageIndex + (p.total ? p.step / p.total : 0)) / Math.max(1, p.stageCount);
        opts.onProgress?.({ done: i, total, label: `${what} — ${p.stage} ${p.step}/${p.total}`, fraction: (i + inRun) / total });
      };
      try {
        replies.push(await runReconstruction({ ...job, settings: opts.settings }, stage, undefined, 'set'));
        live = false;
      } catch (e) {
        live = false;
        if (opts.signal?.aborted) return { replies, cancelled: true };
        throw e;
      }
    }
    opts.onProgress?.({ done: total, total, label: 'done', fraction: 1 });
    return { replies, cancelled: false };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    sessionRecons.addReplies(...replies);
  }
}

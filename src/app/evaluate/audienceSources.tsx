// Where the audience 2AFC takes its images from without anyone choosing files: the open bundle's
// reconstruction sets (drawn from the bundle's shards by the decode worker, like every bundle image)
// and the reconstructions made in this page session (RGB bytes kept by reconstruct/sessionRecons.ts).
// Ground truths are the bundle's stimulus images. One subject at a time: a foil is another stimulus
// of the same subject, method and condition.
import type { Manifest, TensorRef } from '../../core/bundle/manifest.ts';
import type { AudienceCandidate } from '../../core/evaluate/audience.ts';
import type { SessionReconstruction } from '../../core/evaluate/protocol.ts';
import { RgbCanvas } from '../common/RgbCanvas.tsx';
import { TensorImage } from '../common/TensorImage.tsx';
import type { AudienceSource } from './AudienceMode.tsx';

const SIZE = 256;

/** Image r of stimulus i in a reconstruction set (uint8 [nStimuli, reps, H, W, 3]) as its own reference. */
function reconImage(ref: TensorRef, i: number, r: number): TensorRef {
  const [, reps, h, w, c] = ref.shape;
  return { shard: ref.shard, offset: ref.offset + (i * reps + r) * h * w * c, dtype: ref.dtype, shape: [h, w, c] };
}

function groundTruth(m: Manifest, stimulus: number) {
  const s = m.stimuli.find((x) => x.id === stimulus);
  return s?.image ? <TensorImage tensor={s.image} size={SIZE} label={`ground truth, stimulus ${stimulus}`} className="aud-img" /> : null;
}

const candKey = (c: AudienceCandidate) => `${c.method}|${c.condition}|${c.stimulus}|${c.repetition}`;

/** The bundle's reconstructions of `subject` whose stimulus has a ground-truth image; null when none. */
export function bundleAudienceSource(m: Manifest, subject: number): AudienceSource | null {
  const refs = new Map<string, TensorRef>();
  const candidates: AudienceCandidate[] = [];
  const hasImage = new Set(m.stimuli.filter((s) => s.image).map((s) => s.id));
  for (const set of m.reconstructions ?? []) {
    if (set.subject !== subject) continue;
    const reps = set.images.shape[1];
    set.stimuli.forEach((stimulus, i) => {
      if (!hasImage.has(stimulus)) return;
      for (let r = 0; r < reps; r++) {
        const c = { method: set.method, condition: set.condition, stimulus, repetition: r };
        refs.set(candKey(c), reconImage(set.images, i, r));
        candidates.push(c);
      }
    });
  }
  if (!candidates.length) return null;
  const methods = [...new Set(candidates.map((c) => c.method))];
  return {
    candidates,
    label: `this bundle's reconstructions of subject ${subject} (${candidates.length}; ${methods.join(', ')})`,
    renderImage: (img) => (img.kind === 'gt' ? groundTruth(m, img.stimulus) : <TensorImage tensor={refs.get(candKey(img.candidate))!} size={SIZE} label="reconstruction" className="aud-img" />),
  };
}

/** This session's reconstructions of `subject` whose stimulus has a ground-truth image; null when none. */
export function sessionAudienceSource(m: Manifest, subject: number, list: readonly SessionReconstruction[]): AudienceSource | null {
  const hasImage = new Set(m.stimuli.filter((s) => s.image).map((s) => s.id));
  const byKey = new Map<string, SessionReconstruction>();
  for (const r of list) if (r.subject === subject && hasImage.has(r.stimulus)) byKey.set(candKey(r), r);
  if (!byKey.size) return null;
  const candidates = [...byKey.values()].map(({ method, condition, stimulus, repetition }) => ({ method, condition, stimulus, repetition }));
  return {
    candidates,
    label: `this session's reconstructions of subject ${subject} (${candidates.length})`,
    renderImage: (img) => (img.kind === 'gt' ? groundTruth(m, img.stimulus) : <RgbCanvas image={byKey.get(candKey(img.candidate))!} label="reconstruction" className="aud-img" />),
  };
}

/** Both, as one source (the bundle's methods and this session's side by side); null when neither has any. */
export function combinedAudienceSource(a: AudienceSource | null, b: AudienceSource | null): AudienceSource | null {
  if (!a || !b) return a ?? b;
  const fromA = new Set(a.candidates.map(candKey));
  return {
    candidates: [...a.candidates, ...b.candidates],
    label: `${a.label} and ${b.label}`,
    renderImage: (img) => (img.kind === 'gt' || fromA.has(candKey(img.candidate)) ? a.renderImage(img) : b.renderImage(img)),
  };
}

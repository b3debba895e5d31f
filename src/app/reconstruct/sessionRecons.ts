// Every reconstruction the Reconstruction tab made in this page session (a single run, both halves
// of "Compare vision vs imagery", and the whole-stimulus-set run of the Evaluation tab), kept as RGB
// bytes so that the Evaluation tab scores all of them and the audience 2AFC can show them. Before
// this only the last reply was kept: after a comparison the evaluation counted only the imagery one.
// The chosen candidate's bitmap is read back once, when the reply arrives (a copy of pixels, no math;
// images are at most the display size). An external store: React reads it with useSyncExternalStore.
import { rgbaToRgb } from '../../core/base/image.ts';
import type { ReconstructReply } from '../../core/generate/protocol.ts';
import type { SessionReconstruction } from '../../core/evaluate/protocol.ts';

/** How this page's reconstructions are named in tables and charts. */
export const SESSION_METHOD = 'MIRAGE pipeline (this session)';

/** The chosen candidate of a reply as RGB bytes; null when its bitmap is closed or unreadable. */
export function toSessionReconstruction(reply: ReconstructReply, method = SESSION_METHOD): SessionReconstruction | null {
  const img = reply.candidates[reply.best] ?? reply.candidates[0];
  if (!img || typeof OffscreenCanvas === 'undefined') return null;
  const { width, height } = img.bitmap;
  if (!width || !height) return null;
  try {
    const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(img.bitmap, 0, 0);
    const rgb = rgbaToRgb(ctx.getImageData(0, 0, width, height).data, width, height).data;
    const { subject, condition, stimulus } = reply.request;
    // the seed is the repetition: two runs with different seeds are two samples of the same trial
    return { method, subject, condition, stimulus, repetition: reply.settings.seed, rgb, width, height };
  } catch {
    return null; // a closed bitmap: nothing to keep
  }
}

const keyOf = (r: SessionReconstruction) => `${r.method}|${r.subject}|${r.condition}|${r.stimulus}|${r.repetition}`;

let entries: readonly SessionReconstruction[] = [];
const listeners = new Set<() => void>();

export const sessionRecons = {
  /** The same array until something is added (a stable snapshot for useSyncExternalStore). */
  list: (): readonly SessionReconstruction[] => entries,
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** Adds (or replaces: same method, subject, condition, stimulus and seed) and tells listeners once. */
  add(...items: SessionReconstruction[]): void {
    if (!items.length) return;
    const byKey = new Map(entries.map((e) => [keyOf(e), e]));
    for (const it of items) byKey.set(keyOf(it), it);
    entries = [...byKey.values()];
    listeners.forEach((l) => l());
  },
  /** Adds the chosen candidate of each reply (unreadable ones are skipped). */
  addReplies(...replies: ReconstructReply[]): void {
    this.add(...replies.map((r) => toSessionReconstruction(r)).filter((r): r is SessionReconstruction => r !== null));
  },
};

// Heads on a decoder backend, uploaded once: uploading a head (A, B to a GPU or wasm heap) costs far
// more than predicting a batch, so every caller that decodes repeatedly (the decode worker, the
// generation service, a whole subject in `mirage decode`) keeps its heads here.
import type { Head, HeadName } from '../bundle/manifest.ts';
import type { DecoderBackend } from './backend.ts';
import { loadHead, type LoadedHead, type TensorReader } from './predict.ts';

/** What a decode needs of a head once it is on the backend: its spec and training-target statistics. */
export type HeadStats = Pick<LoadedHead, 'spec' | 'targetMean' | 'targetStd'>;

interface Resident {
  bundle: TensorReader;
  subject: number;
  stats: HeadStats;
}

export class HeadCache {
  /** A backend holds one head per name, so does the cache: per name, whose head is uploaded. */
  private readonly resident = new Map<HeadName, Resident>();

  constructor(readonly backend: DecoderBackend) {}

  /** Puts `spec` (subject `subject` of `bundle`) on the backend unless it is already there. */
  async use(bundle: TensorReader, subject: number, spec: Head): Promise<HeadStats> {
    const r = this.resident.get(spec.name);
    if (r && r.bundle === bundle && r.subject === subject) return r.stats;
    this.resident.delete(spec.name); // a failed upload must not leave the old head marked resident
    const loaded = await loadHead(bundle, spec);
    await this.backend.setHead(loaded);
    const stats: HeadStats = { spec: loaded.spec, targetMean: loaded.targetMean, targetStd: loaded.targetStd };
    this.resident.set(spec.name, { bundle, subject, stats });
    return stats;
  }

  /** Forgets every head (a new bundle); the backend's copies are replaced on next use. */
  clear(): void {
    this.resident.clear();
  }
}

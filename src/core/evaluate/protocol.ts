// Types shared by workers/evaluate.worker.ts and the evaluate panel (no code).
import type { BundleEvalResult, RgbBytes, SessionReconstruction } from './bundleEval.ts';
import type { ResultRow } from './tables.ts';
import type { BundleSourceSpec } from '../decode/protocol.ts';
import type { StepProgress } from '../base/progress.ts';

export type { BundleEvalResult, RgbBytes, SessionReconstruction };

export interface EvaluateRequest {
  bundle: BundleSourceSpec;
  /** evaluation size (shorter edge); undefined = the bundle's image size */
  size?: number;
  session?: SessionReconstruction[];
}

export type RowRef = Pick<ResultRow, 'method' | 'subject' | 'condition' | 'stimulus' | 'repetition'>;

export interface EvaluateWorkerApi {
  evaluate(req: EvaluateRequest, onProgress?: StepProgress): Promise<BundleEvalResult>;
  /** the reconstruction of a row and its ground truth (for galleries); null when unknown */
  images(req: EvaluateRequest, row: RowRef): Promise<{ recon: RgbBytes; gt: RgbBytes } | null>;
  cancel(): void;
}

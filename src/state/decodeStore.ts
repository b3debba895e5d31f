// Results of decoding: which backend runs the heads, and the last decoded selection with its
// predictions, identification rankings and timings. Written by src/app/actions.ts from worker replies.
import { create } from 'zustand';
import type { AppError } from './bundleStore.ts';
import type { BackendName, DecodeResponse, IdentifyResponse } from '../core/decode/protocol.ts';

export type BackendStatus = 'idle' | 'starting' | 'ready' | 'error';

export interface DecodeEntry {
  /** Identifies the selection decoded (subject, trials, averaging). */
  key: string;
  subject: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  response: DecodeResponse;
  /** Identification of the decoded image embedding among the 18 stimuli / the gallery. */
  identifyStimuli: IdentifyResponse | null;
  identifyGallery: IdentifyResponse | null;
}

export interface DecodeState {
  backend: BackendName | null;
  backendStatus: BackendStatus;
  backendError: AppError | null;
  status: 'idle' | 'running' | 'done' | 'error';
  pendingKey: string | null;
  current: DecodeEntry | null;
  error: AppError | null;
  setBackend(patch: Partial<Pick<DecodeState, 'backend' | 'backendStatus' | 'backendError'>>): void;
  start(key: string): void;
  finish(entry: DecodeEntry): void;
  fail(key: string, error: AppError): void;
  clear(): void;
}

export const useDecodeStore = create<DecodeState>()((set, get) => ({
  backend: null,
  backendStatus: 'idle',
  backendError: null,
  status: 'idle',
  pendingKey: null,
  current: null,
  error: null,
  setBackend(patch) {
    set(patch);
  },
  start(key) {
    set({ status: 'running', pendingKey: key, error: null });
  },
  finish(entry) {
    if (get().pendingKey !== entry.key) return; // a newer request superseded this one
    set({ status: 'done', current: entry, pendingKey: null, backend: entry.response.backend });
  },
  fail(key, error) {
    if (get().pendingKey !== key) return;
    set({ status: 'error', error, pendingKey: null });
  },
  clear() {
    set({ status: 'idle', current: null, error: null, pendingKey: null });
  },
}));

// onnxruntime's own log lines (node placement warnings, kernel errors) as the workers publish them
// (src/core/onnx/runtime.ts routes them off the console onto a BroadcastChannel); src/app/common/
// OrtLog.tsx listens and writes them here, the panels show them as diagnostics.
import { create } from 'zustand';
import type { OrtLogLine } from '../core/onnx/runtime.ts';

/** Lines kept (the newest); a page session only ever needs the recent ones. */
export const ORT_LOG_MAX = 300;

export interface OrtLogState {
  lines: OrtLogLine[];
  add(line: OrtLogLine): void;
}

export const useOrtLogStore = create<OrtLogState>()((set) => ({
  lines: [],
  add(line) {
    set((s) => ({ lines: [...s.lines, line].slice(-ORT_LOG_MAX) }));
  },
}));

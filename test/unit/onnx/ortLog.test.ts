// onnxruntime's log lines as its wasm writes them to the browser console (colour codes, timestamp,
// source location): recognised and cleaned; any other console text is left alone.
import { describe, expect, it } from 'vitest';
import { parseOrtLogLine } from '../../../src/core/onnx/runtime.ts';

describe('parseOrtLogLine', () => {
  it('reads a coloured node-placement warning', () => {
    const raw =
      '\u001b[0;93m2026-12-03 14:00:00.123 [W:onnxruntime:, session_state.cc:1280 VerifyEachNodeIsAssignedToAnEp] Some nodes were not assigned to the preferred execution providers which may or may not have an negative impact on performance.\u001b[m';
    expect(parseOrtLogLine(raw)).toEqual({
      severity: 'warning',
      message: 'Some nodes were not assigned to the preferred execution providers which may or may not have an negative impact on performance.',
    });
  });

  it('reads an error line and keeps multi-line messages whole', () => {
    const raw = '\u001b[1;31m2026-12-03 14:00:00 [E:onnxruntime:, sequential_executor.cc:572 ExecuteKernel] Non-zero status code returned while running Conv node.\nName:\'conv1\'\u001b[m';
    expect(parseOrtLogLine(raw)).toEqual({ severity: 'error', message: "Non-zero status code returned while running Conv node.\nName:'conv1'" });
  });

  it('ignores console text that is not onnxruntime log output', () => {
    expect(parseOrtLogLine('Failed to load resource: net::ERR_ABORTED')).toBeNull();
    expect(parseOrtLogLine('[W:tfjs] something else')).toBeNull();
  });
});

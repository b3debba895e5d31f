// Ctrl-C for long Node work. Node's default on SIGINT is to die at once, which skips every cleanup;
// the CLI instead turns the first Ctrl-C (or SIGTERM) into an AbortSignal that the core's loops and
// the atomic writer observe: the run stops at its next check, its temporary output is removed and
// nothing is committed. A second Ctrl-C exits at once (temporaries still removed, synchronously).
import { AbortError } from '../core/base/errors.ts';
import { removeInFlightSync } from './atomic.ts';

/** Exit status of a run stopped by SIGINT (128 + 2, what shells report for Ctrl-C). */
export const INTERRUPTED_EXIT_CODE = 130;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Which signal fired (undefined while none has). */
  readonly received: NodeJS.Signals | undefined;
  /** Stops listening (tests, or a caller that installs its own handling). */
  dispose(): void;
}

/** Listens for SIGINT/SIGTERM: the first aborts `signal`, a second SIGINT exits with status 130. */
export function interruptOnSignals(onForcedExit: () => void = () => {}): Interrupt {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (received && sig === 'SIGINT') {
      onForcedExit();
      removeInFlightSync();
      process.exit(INTERRUPTED_EXIT_CODE);
    }
    received ??= sig;
    controller.abort(new AbortError(`interrupted (${sig})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

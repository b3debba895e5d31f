// What cli/main.ts hands every command's register(). A command that honours Ctrl-C calls
// ctx.interruptible() when its action starts and passes the signal to the core and to the atomic
// writer: from then on the first Ctrl-C aborts the signal (src/node/interrupt.ts), the run stops at
// its next check, nothing is written, and main.ts exits 130 with one line. A command that never
// calls it (a short one, or one that cannot stop part-way) keeps Node's default: Ctrl-C ends the
// process at once.
export interface CommandContext {
  /** The run's AbortSignal (the same one on every call); starts listening for SIGINT/SIGTERM. */
  interruptible(): AbortSignal;
}

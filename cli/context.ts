// What cli/main.ts hands every command's register(): the run's AbortSignal, aborted by the first
// Ctrl-C (src/node/interrupt.ts). Commands pass it to the core and to the atomic writer, so an
// interrupted run stops at its next check and leaves no output.
export interface CommandContext {
  signal: AbortSignal;
}

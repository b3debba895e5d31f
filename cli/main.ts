// `mirage`: the command-line face of src/core. Every file in cli/commands registers its own
// subcommands, so adding a command never means editing this file. Commands never import each
// other: what two of them share lives in src/node (Node adapters) or src/core.
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BundleError } from '../src/core/base/errors.ts';
import { INTERRUPTED_EXIT_CODE, interruptOnSignals, type Interrupt } from '../src/node/interrupt.ts';
import type { CommandContext } from './context.ts';

const program = new Command();
program.name('mirage').description('MIRAGE Explorer: build, import, validate, decode and evaluate NSD-Imagery bundles');

// Installed by the first command that asks for it (cli/context.ts); then the first Ctrl-C aborts
// its signal instead of ending the process.
let interrupt: Interrupt | undefined;
const ctx: CommandContext = { interruptible: () => (interrupt ??= interruptOnSignals()).signal };

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
for (const file of readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).sort()) {
  const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as { register?: (p: Command, c: CommandContext) => void };
  if (typeof mod.register !== 'function') throw new Error(`cli/commands/${file} does not export register(program, ctx)`);
  mod.register(program, ctx);
}

/** One line, no stack trace, status 130 (SIGINT) or 143 (SIGTERM); what was written was discarded. */
function exitInterrupted(): never {
  const sig = interrupt?.received ?? 'SIGINT';
  const what = sig === 'SIGINT' ? 'Ctrl-C' : sig;
  process.stderr.write(`mirage: interrupted (${what}); stopped before writing any output\n`);
  // Exit now: a wasm backend or session that is still settling must not keep the process alive.
  process.exit(sig === 'SIGINT' ? INTERRUPTED_EXIT_CODE : 128 + 15);
}

try {
  await program.parseAsync(process.argv);
  // A command that finished despite Ctrl-C (nothing in it checked the signal) was still interrupted.
  if (interrupt?.signal.aborted) exitInterrupted();
} catch (e) {
  if (interrupt?.signal.aborted) exitInterrupted();
  // Input errors are the user's to fix: print them plainly, without a stack trace.
  // (FormatError, the outside-format readers' error, is a BundleError.)
  if (e instanceof BundleError || (e instanceof Error && e.name === 'BundleError')) {
    process.stderr.write(`error: ${e.message}\n`);
  } else {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exitCode = 1;
}

// `mirage`: the command-line face of src/core. Every file in cli/commands registers its own
// subcommands, so adding a command never means editing this file.
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BundleError } from '../src/core/base/errors.ts';

const program = new Command();
program.name('mirage').description('MIRAGE Explorer: build, import, validate, decode and evaluate NSD-Imagery bundles');

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
for (const file of readdirSync(commandsDir).filter((f) => f.endsWith('.ts')).sort()) {
  const mod = (await import(pathToFileURL(join(commandsDir, file)).href)) as { register?: (p: Command) => void };
  if (typeof mod.register !== 'function') throw new Error(`cli/commands/${file} does not export register(program)`);
  mod.register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Input errors are the user's to fix: print them plainly, without a stack trace.
  if (e instanceof BundleError || (e instanceof Error && e.name === 'BundleError')) {
    process.stderr.write(`error: ${e.message}\n`);
  } else {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exitCode = 1;
}

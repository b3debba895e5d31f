// Helpers shared by scripts/start.mjs and scripts/test.mjs (plain Node ESM: they must run before
// `npm install` has put anything in node_modules).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_DIR = 'public/demo';

// The code that decides what the demo bundle contains. A demo built by an older version of it
// validates fine but is stale, so reuse also requires the same fingerprint of these sources.
const DEMO_SOURCES = ['src/core/simulate', 'src/core/onnx', 'src/core/decode', 'src/core/bundle', 'src/core/tensor', 'src/core/generate', 'cli/commands/demo.ts'];
const FINGERPRINT_FILE = '.builder-fingerprint';

function listFiles(path) {
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return [];
  if (!abs.endsWith('/') && !readdirSafe(abs)) return [path];
  return readdirSafe(abs)
    .sort()
    .flatMap((name) => listFiles(`${path}/${name}`));
}
function readdirSafe(abs) {
  try {
    return readdirSync(abs);
  } catch {
    return null;
  }
}

/** sha256 over the paths and contents of the demo builder's sources. */
export function demoFingerprint() {
  const h = createHash('sha256');
  for (const f of DEMO_SOURCES.flatMap(listFiles).filter((f) => f.endsWith('.ts'))) {
    h.update(f);
    h.update(readFileSync(join(ROOT, f)));
  }
  return h.digest('hex');
}

/** Runs a command in the project root with inherited stdio; resolves with its exit code. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: opts.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: { ...process.env, ...opts.env } });
    let out = '';
    if (opts.quiet) {
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

export function log(msg) {
  process.stdout.write(`\x1b[1m[mirage]\x1b[0m ${msg}\n`);
}

/** `npm install` when node_modules is missing or was never completed. */
export async function ensureInstalled() {
  if (existsSync(join(ROOT, 'node_modules/.package-lock.json'))) return;
  log('node_modules is missing: running npm install (once)…');
  const { code } = await run('npm', ['install', '--no-audit', '--no-fund']);
  if (code !== 0) throw new Error(`npm install failed (exit ${code})`);
}

/**
 * Reuses public/demo when its manifest exists and the bundle validates (schema, references and
 * shard sizes); otherwise builds it with `mirage demo` (which draws its own progress bar).
 */
export async function ensureDemoBundle() {
  const manifest = join(ROOT, DEMO_DIR, 'manifest.json');
  if (existsSync(manifest)) {
    const { code, out } = await run(process.execPath, ['bin/mirage.js', 'validate', DEMO_DIR, '--sizes', '--quiet'], { quiet: true });
    const fpFile = join(ROOT, DEMO_DIR, FINGERPRINT_FILE);
    const fresh = existsSync(fpFile) && readFileSync(fpFile, 'utf8').trim() === demoFingerprint();
    if (code === 0 && fresh) {
      log(`demo bundle: reusing ${DEMO_DIR} (valid, built by the current code)`);
      return;
    }
    if (code !== 0) {
      log(`demo bundle in ${DEMO_DIR} does not validate; rebuilding it:\n${out.trim().split('\n').slice(0, 5).join('\n')}`);
    } else {
      log(`demo bundle in ${DEMO_DIR} was built by an older version of the simulation; rebuilding it…`);
    }
  } else {
    log(`demo bundle: building ${DEMO_DIR} (first run, a few minutes; simulated data)…`);
  }
  const t0 = Date.now();
  const { code } = await run(process.execPath, ['bin/mirage.js', 'demo', '--out', DEMO_DIR]);
  if (code !== 0) throw new Error(`building the demo bundle failed (exit ${code})`);
  writeFileSync(join(ROOT, DEMO_DIR, FINGERPRINT_FILE), `${demoFingerprint()}\n`);
  log(`demo bundle built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

#!/usr/bin/env node
// `npm test`: static checks (tsc, eslint), unit tests (vitest), then the browser tests (playwright with Debian's chromium and
// WebGPU) against the demo bundle, built first if missing. Runs every stage, prints a summary and
// exits non-zero if any stage failed.
//   npm test -- --unit       unit tests only
//   npm test -- --browser    browser tests only
import { existsSync } from 'node:fs';
import { ensureDemoBundle, ensureInstalled, log, run } from './lib.mjs';

const onlyUnit = process.argv.includes('--unit');
const onlyBrowser = process.argv.includes('--browser');
const results = [];

async function stage(name, fn) {
  const t0 = Date.now();
  let ok = false;
  try {
    ok = await fn();
  } catch (e) {
    process.stderr.write(`[mirage] ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
  }
  results.push({ name, ok, s: (Date.now() - t0) / 1000 });
  return ok;
}

await ensureInstalled();
if (!onlyBrowser) {
  await stage('type-check (tsc)', async () => (await run('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'])).code === 0);
  await stage('lint (eslint)', async () => (await run('npx', ['eslint', 'src', 'workers', 'cli', 'bench', 'scripts', 'test'])).code === 0);
  await stage('unit tests (vitest)', async () => (await run('npx', ['vitest', 'run'])).code === 0);
}
if (!onlyUnit) {
  const chromium = process.env.MIRAGE_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    results.push({ name: `browser tests: ${chromium} not found (apt-get install -y chromium, or .ci/run)`, ok: false, s: 0 });
  } else if (await stage('demo bundle', async () => (await ensureDemoBundle(), true))) {
    await stage('browser tests (playwright, chromium + WebGPU)', async () => (await run('npx', ['playwright', 'test'])).code === 0);
  }
}

log('summary:');
for (const r of results) log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name}  (${r.s.toFixed(0)} s)`);
process.exit(results.every((r) => r.ok) ? 0 : 1);

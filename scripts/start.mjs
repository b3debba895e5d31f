#!/usr/bin/env node
// `npm start`: installs what is missing, builds the simulated demo bundle on first run (reused
// afterwards), then serves the app and prints its URL.
//   npm start                 Vite dev server (default, port 5173)
//   npm start -- --preview    production build, then `vite preview` (port 4173)
//   npm start -- --port N --host H
import { ensureDemoBundle, ensureInstalled, log, ROOT } from './lib.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const preview = process.argv.includes('--preview');
const port = Number(option('port', preview ? 4173 : 5173));
const host = option('host', 'localhost');

try {
  await ensureInstalled();
  await ensureDemoBundle();
  const vite = await import('vite');
  if (preview) {
    log('building the app (vite build)…');
    await vite.build({ root: ROOT, logLevel: 'warn' });
    const server = await vite.preview({ root: ROOT, preview: { port, host, strictPort: false } });
    server.printUrls();
  } else {
    const server = await vite.createServer({ root: ROOT, server: { port, host, strictPort: false } });
    await server.listen();
    server.printUrls();
  }
  const url = `http://${host}:${port}/`;
  log(`MIRAGE Explorer is running. Open ${url} in Chromium or Chrome (WebGPU). Ctrl+C stops it.`);
} catch (e) {
  process.stderr.write(`\n[mirage] start failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

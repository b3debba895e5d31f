// Vite config of the explorer page.
// - COOP/COEP headers on dev and preview servers: wasm threads need SharedArrayBuffer, which
//   browsers only grant to cross-origin-isolated pages.
// - The .wasm/.mjs runtime files of tfjs-backend-wasm and onnxruntime-web are served from
//   node_modules under /wasm/ (dev) and copied into dist/wasm/ (build): no CDN, the machine may be offline.
// - public/demo/ (built by `mirage demo --out public/demo`) is served as static files like all of public/.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** Runtime files that wasm backends fetch at run time, by the name they are served under. */
function wasmRuntimeFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const dirs: Array<[string, RegExp]> = [
    [join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist'), /^tfjs-backend-wasm.*\.wasm$/],
    [join(root, 'node_modules/onnxruntime-web/dist'), /^ort-wasm.*\.(wasm|mjs)$/],
  ];
  for (const [dir, re] of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // package not installed: the backend that needs it will report the missing file
    }
    for (const name of names) if (re.test(name)) files.set(name, join(dir, name));
  }
  return files;
}

function vendorWasm(): Plugin {
  const files = wasmRuntimeFiles();
  return {
    name: 'mirage-vendor-wasm',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0];
        const m = /\/wasm\/([^/]+)$/.exec(url);
        const file = m ? files.get(m[1]) : undefined;
        if (!file) return next();
        res.setHeader('Content-Type', file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.setHeader('Content-Length', String(statSync(file).size));
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [name, file] of files) {
        this.emitFile({ type: 'asset', fileName: `wasm/${name}`, source: readFileSync(file) });
      }
    },
  };
}

export default defineConfig({
  root,
  plugins: [react(), vendorWasm()],
  server: {
    headers: { ...ISOLATION_HEADERS },
    port: 5173,
    strictPort: false,
    // Browser tests turn live reload off: an edited file must not reload the page mid-test. (The
    // watcher stays on: it also tells the server about files added to public/, e.g. a new demo.)
    hmr: process.env.MIRAGE_NO_HMR ? false : undefined,
  },
  preview: { headers: { ...ISOLATION_HEADERS }, port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: {
    // Crawl the workers and every screen module too (the panels are lazily imported), and
    // pre-bundle what they import, so no visit discovers a dependency late: a late discovery
    // re-optimises, and the chunks the page already asked for answer "504 Outdated Optimize Dep"
    // (a lazy panel then fails to load). tfjs and its backends must share one pre-bundled copy of
    // tfjs-core (a second copy would not see the registered backends).
    entries: ['index.html', 'workers/*.worker.ts', 'src/app/**/*.tsx'],
    include: [
      'react',
      'react-dom/client',
      'zustand',
      'comlink',
      'd3',
      'zod',
      'fflate',
      'three',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
    ],
    // onnxruntime-web finds its .wasm/.mjs next to its own module URL (or ort.env.wasm.wasmPaths,
    // e.g. `${BASE_URL}wasm/`, served by this config); pre-bundling would move it.
    exclude: ['onnxruntime-web'],
  },
  build: {
    target: 'es2022',
    outDir: resolve(root, 'dist'),
    chunkSizeWarningLimit: 8000,
  },
});

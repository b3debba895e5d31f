// Where tfjs-backend-wasm finds its .wasm files in Node: on disk, next to the installed package
// (the page serves the same files under /wasm/, vite.config.ts).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** node_modules/@tensorflow/tfjs-backend-wasm/dist/ (with the trailing slash tfjs expects). */
export function nodeWasmPaths(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

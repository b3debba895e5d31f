// The project's layers and the one direction of imports between them, enforced by `npm run lint`.
//
// Why a local ESLint rule instead of no-restricted-imports or dependency-cruiser: the rule resolves
// every relative import to the folder it lands in, so one table below is the whole policy (no
// per-folder glob lists to keep in sync), it runs inside the lint the project already has (editor
// and CI alike, no second tool or config format), and a folder missing from the table is itself an
// error, so a new folder cannot slip past the policy. Folder cycles are impossible by construction:
// every layer may import only layers listed before it in LAYERS (checked when this file loads).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Layers from the bottom up, each with the layers it may import (all must come earlier in the list).
 * A layer is a folder; the longest matching folder wins (src/core/decode before src/core).
 */
export const LAYERS = [
  { layer: 'src/core/base', may: [] },
  { layer: 'src/core/tensor', may: ['src/core/base'] },
  { layer: 'src/core/bundle', may: ['src/core/base', 'src/core/tensor'] },
  { layer: 'src/core/formats', may: ['src/core/base', 'src/core/tensor', 'src/core/bundle'] },
  { layer: 'src/core/onnx', may: ['src/core/base', 'src/core/tensor', 'src/core/bundle'] },
  { layer: 'src/core/decode', may: ['src/core/base', 'src/core/tensor', 'src/core/bundle', 'src/core/onnx'] },
  {
    layer: 'src/core/generate',
    may: ['src/core/base', 'src/core/tensor', 'src/core/bundle', 'src/core/formats', 'src/core/onnx', 'src/core/decode'],
  },
  {
    layer: 'src/core/simulate',
    may: ['src/core/base', 'src/core/tensor', 'src/core/bundle', 'src/core/onnx', 'src/core/decode', 'src/core/generate'],
  },
  {
    layer: 'src/core/cortex',
    may: ['src/core/base', 'src/core/tensor', 'src/core/bundle', 'src/core/onnx', 'src/core/decode', 'src/core/generate'],
  },
  {
    layer: 'src/core/evaluate',
    may: [
      'src/core/base',
      'src/core/tensor',
      'src/core/bundle',
      'src/core/onnx',
      'src/core/decode',
      'src/core/generate',
      'src/core/simulate',
    ],
  },
  {
    layer: 'src/core/importers',
    may: ['src/core/base', 'src/core/tensor', 'src/core/bundle', 'src/core/formats', 'src/core/onnx', 'src/core/decode', 'src/core/generate'],
  },
  { layer: 'src/core', may: ['src/core/*'] },
  // The front door (package export "."), and the Node adapters (export "./node") built on it.
  { layer: 'src/index.ts', may: ['src/core', 'src/core/*'] },
  { layer: 'src/node', may: ['src/core/*', 'src/index.ts'] },
  { layer: 'src/state', may: ['src/core/*'] },
  { layer: 'workers', may: ['src/core/*'] },
  { layer: 'src/app', may: ['src/core/*', 'src/state'] },
  { layer: 'src/main.tsx', may: ['src/app', 'src/state'] },
  { layer: 'scripts', may: ['src/core/*', 'src/node'] },
  { layer: 'bench', may: ['src/core/*', 'src/node', 'src/index.ts', 'scripts'] },
  { layer: 'cli', may: ['src/core/*', 'src/node', 'src/index.ts', 'bench', 'scripts'] },
  // Examples show the public API: the package entries only (they import them by package name).
  { layer: 'examples', may: ['src/index.ts', 'src/node'] },
];

function expand(may) {
  return may.flatMap((m) =>
    m.endsWith('/*') ? LAYERS.map((l) => l.layer).filter((l) => l.startsWith(m.slice(0, -1)) && l !== m.slice(0, -2)) : [m],
  );
}

// Checked once at load: every allowed layer sits earlier in the list (so no cycle can be allowed).
LAYERS.forEach(({ layer, may }, i) => {
  for (const m of expand(may)) {
    const j = LAYERS.findIndex((l) => l.layer === m);
    if (j < 0 || j >= i) throw new Error(`eslint/layers.js: ${layer} may import ${m}, which is not a layer below it`);
  }
});

const ALLOWED = new Map(LAYERS.map(({ layer, may }) => [layer, new Set(expand(may))]));
const BY_LENGTH = LAYERS.map((l) => l.layer).sort((a, b) => b.length - a.length);

/** The layer a repository-relative path belongs to, or null outside the layered folders. */
export function layerOf(rel) {
  const p = rel.split(path.sep).join('/');
  return BY_LENGTH.find((l) => p === l || p.startsWith(l + '/')) ?? null;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports run one way down the layers of eslint/layers.js (no upward import, no folder cycle)' },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename);
    const from = layerOf(file);
    function check(node, spec) {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.relative(ROOT, path.resolve(path.dirname(context.filename), spec));
      const to = layerOf(target);
      if (!to || to === from) return;
      if (!from) return;
      if (!ALLOWED.get(from).has(to)) {
        context.report({
          node,
          message: `${from} may not import ${to} (${spec}): imports run one way down the layers listed in eslint/layers.js`,
        });
      }
    }
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n.source, n.source.value),
    };
  },
};

export default { rules: { 'one-way': rule } };

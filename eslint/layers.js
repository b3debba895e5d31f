// The project's layers and the one direction of imports between them, enforced by `npm run lint`
// (rule layers/one-way), and the privacy of cli/commands/ (rule layers/commands-private, below).
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

/** The repository-relative path a relative import specifier lands on, or null for a package import. */
function importTarget(filename, spec) {
  if (typeof spec !== 'string' || !spec.startsWith('.')) return null;
  return path.relative(ROOT, path.resolve(path.dirname(filename), spec)).split(path.sep).join('/');
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
      const target = importTarget(context.filename, spec);
      if (!target) return;
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

// A command is an entry point, not a library: cli/main.ts loads every file of cli/commands/ by
// name (a dynamic import of a computed path, which no rule sees), and nothing else may import one,
// neither another command nor a test, bench or src file. Logic a command holds is then reachable
// only through the command line; a test or a second command that needs it makes us move it to
// src/node (file IO) or src/core (pure logic), where every caller shares one copy.
const COMMANDS = 'cli/commands';

const commandsPrivate = {
  meta: {
    type: 'problem',
    docs: { description: 'nothing imports a file of cli/commands/ (commands only parse flags; shared logic lives in src/node or src/core)' },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const fromCommand = file.startsWith(COMMANDS + '/');
    function check(node, spec) {
      const target = importTarget(context.filename, spec);
      if (!target || !(target === COMMANDS || target.startsWith(COMMANDS + '/'))) return;
      context.report({
        node,
        message: fromCommand
          ? `a command may not import another command (${spec}): move what both need to src/node (file IO) or src/core (logic)`
          : `${file} may not import a command (${spec}): commands only parse flags; import the run* function from src/node or src/core`,
      });
    }
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n.source, n.source.value),
    };
  },
};

export default { rules: { 'one-way': rule, 'commands-private': commandsPrivate } };

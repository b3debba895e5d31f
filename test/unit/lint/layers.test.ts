// The layer rules (eslint/layers.js) as `npm run lint` runs them: an upward import or a folder cycle
// is an error, a downward import is not, and every source folder belongs to a layer; nothing imports a
// command of cli/commands/ (not another command, a test, a bench or src).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { LAYERS, layerOf } from '../../../eslint/layers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: ROOT });

async function ruleErrors(rule: string, file: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return res.messages.filter((m) => m.ruleId === rule).map((m) => m.message);
}
const layerErrors = (file: string, code: string) => ruleErrors('layers/one-way', file, code);
const commandErrors = (file: string, code: string) => ruleErrors('layers/commands-private', file, code);

describe('eslint layers/one-way', () => {
  it('rejects an import that runs up the layers', async () => {
    const errs = await layerErrors('src/core/tensor/probe.ts', "import { reconstruct } from '../generate/pipeline.ts';\nexport { reconstruct };\n");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain('src/core/tensor may not import src/core/generate');
  });

  it('rejects each half of a would-be cycle between two folders (only the downward one passes)', async () => {
    const up = await layerErrors('src/core/decode/probe.ts', "export { simulateWorld } from '../simulate/world.ts';\n");
    const down = await layerErrors('src/core/simulate/probe.ts', "export { fitRidge } from '../decode/ridge.ts';\n");
    expect(up).toHaveLength(1);
    expect(down).toHaveLength(0);
  });

  it('rejects core importing the page, and workers importing app', async () => {
    expect(await layerErrors('src/core/decode/probe.ts', "import type { X } from '../../app/App.tsx';\nexport type Y = X;\n")).toHaveLength(1);
    expect(await layerErrors('workers/probe.ts', "import type { X } from '../src/app/App.tsx';\nexport type Y = X;\n")).toHaveLength(1);
    expect(await layerErrors('src/core/bundle/probe.ts', "const m = await import('../evaluate/metrics.ts');\nexport { m };\n")).toHaveLength(1);
  });

  it('accepts a downward import', async () => {
    expect(await layerErrors('src/core/generate/probe.ts', "import { BundleError } from '../base/errors.ts';\nexport { BundleError };\n")).toEqual([]);
    expect(await layerErrors('src/app/probe.ts', "import type { DecodeRequest } from '../core/decode/protocol.ts';\nexport type R = DecodeRequest;\n")).toEqual([]);
  });

  it('every folder holding source files belongs to a layer', () => {
    const missing: string[] = [];
    for (const top of ['src', 'src/core']) {
      for (const name of readdirSync(path.join(ROOT, top))) {
        const rel = `${top}/${name}`;
        if (!statSync(path.join(ROOT, rel)).isDirectory() || rel === 'src/core') continue;
        if (top === 'src' && name === 'core') continue;
        if (!layerOf(rel)) missing.push(rel);
      }
    }
    expect(missing).toEqual([]);
    expect(LAYERS.length).toBeGreaterThan(10);
  });
});

describe('eslint layers/commands-private', () => {
  it('rejects a test, a src file or a bench importing a command', async () => {
    const t = await commandErrors('test/unit/packs/probe.test.ts', "import { register } from '../../../cli/commands/pack.ts';\nexport { register };\n");
    expect(t).toHaveLength(1);
    expect(t[0]).toContain('may not import a command');
    expect(await commandErrors('src/node/probe.ts', "export { register } from '../../cli/commands/ridge.ts';\n")).toHaveLength(1);
    expect(await commandErrors('bench/probe.bench.ts', "const m = await import('../cli/commands/bench.ts');\nexport { m };\n")).toHaveLength(1);
  });

  it('rejects a command importing another command', async () => {
    const errs = await commandErrors('cli/commands/probe.ts', "import { register } from './pack.ts';\nexport { register };\n");
    expect(errs).toHaveLength(1);
    expect(errs[0]).toContain('a command may not import another command');
  });

  it('accepts a command importing src/node and cli/context.ts, and a test importing src/node', async () => {
    const cmd = "import type { CommandContext } from '../context.ts';\nimport { runPackClip } from '../../src/node/packRun.ts';\nexport type C = CommandContext;\nexport { runPackClip };\n";
    expect(await commandErrors('cli/commands/probe.ts', cmd)).toEqual([]);
    expect(await commandErrors('test/unit/packs/probe.test.ts', "export { runPackClip } from '../../../src/node/packRun.ts';\n")).toEqual([]);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';
import type { Manifest } from '../../../src/core/bundle/manifest.ts';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { csvToRows } from '../../../src/core/evaluate/tables.ts';
import { pixelMetrics } from '../../../src/core/evaluate/pixelSuite.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';
import { bundleReconstructionItems, evaluateReconstructions, parseReconFileName } from '../../../src/core/evaluate/runEval.ts';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';

const root = mkdtempSync(join(tmpdir(), 'mirage-eval-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const S = 24;

function pattern(seed: number): Uint8Array {
  return Uint8Array.from({ length: S * S * 3 }, (_, i) => (Math.sin(i * 0.37 + seed * 1.7) * 100 + 128 + ((i * seed) % 17)) & 0xff);
}

async function writeBundle(dir: string, withRecons: boolean): Promise<void> {
  await writeAtomically(dir, async (sink) => {
    const w = new BundleWriter(sink);
    const stimuli: Manifest['stimuli'] = [0, 1, 6, 12].map((id) => ({
      id,
      name: `s${id}`,
      set: id < 6 ? 'simple' : id < 12 ? 'complex' : 'conceptual',
      cue: String.fromCharCode(65 + (id % 26)),
      caption: `stimulus ${id}`,
      ...(id < 12 ? { image: w.addTensor('stimuli.bin', pattern(id + 1), 'uint8', [S, S, 3]) } : {}),
    }));
    const reconstructions: Manifest['reconstructions'] = withRecons
      ? [{
          method: 'bundled', subject: 1, condition: 'imagery', stimuli: [0, 1, 6], source: 'test',
          images: w.addTensor('recons.bin', Uint8Array.from([0, 1, 6].flatMap((id) => [...pattern(id + 1), ...pattern(id + 50)])), 'uint8', [3, 2, S, S, 3]),
        }]
      : undefined;
    await w.finish({
      name: 'eval-test',
      provenance: { kind: 'simulated', command: 'test', createdAt: '2026-01-01', generator: { name: 'test', version: '0' }, sources: [] },
      imageSize: S,
      subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: 4, betaDtype: 'float32', surfaces: [], rois: [], heads: [] }],
      stimuli,
      trials: [],
      features: [],
      ...(reconstructions ? { reconstructions } : {}),
    });
  });
}

function run(args: string[]): string {
  return execFileSync(process.execPath, ['bin/mirage.js', 'eval', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('mirage eval', () => {
  it('scores a PNG folder, writes CSV + Table-1 summary, and resumes without redoing rows', async () => {
    const bundle = join(root, 'b1');
    await writeBundle(bundle, false);
    const recons = join(root, 'myMethod');
    mkdirSync(recons);
    for (const cond of ['vision', 'imagery'])
      for (const stim of [0, 1, 6])
        for (const rep of [0, 1, 2])
          writeFileSync(join(recons, `1_${cond}_${stim}_${rep}.png`), encodePng(pattern(stim + 1 + rep * 3 + (cond === 'imagery' ? 7 : 0)), S, S));
    writeFileSync(join(recons, 'notes.png'), encodePng(pattern(9), S, S)); // wrong name: skipped
    const out = join(root, 'out1');
    run(['--bundle', bundle, '--recons', recons, '--out', out, '--size', '24', '--reps', '2']);
    const rows = csvToRows(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(rows.length).toBe(2 * 3 * 2);
    expect(new Set(rows.map((r) => r.method))).toEqual(new Set(['myMethod']));
    const r = rows.find((x) => x.condition === 'imagery' && x.stimulus === 6 && x.repetition === 1)!;
    expect(r.set).toBe('complex');
    const expected = pixelMetrics(fromUint8(pattern(7), S, S, 3), fromUint8(pattern(6 + 1 + 3 + 7), S, S, 3), { size: 24 });
    expect(r.metrics.ssim).toBeCloseTo(expected.ssim, 12);
    expect(r.metrics.pixcorr).toBeCloseTo(expected.pixcorr, 12);
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(md).toContain('| imagery | simple |');
    expect(md).toContain('SIMULATED');
    // resume: tamper a finished value; a second run must keep it (not recompute), and add rep 2 rows
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').replace(String(r.metrics.ssim), '0.123456');
    writeFileSync(join(out, 'results.csv'), csv);
    run(['--bundle', bundle, '--recons', recons, '--out', out, '--size', '24']);
    const rows2 = csvToRows(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(rows2.length).toBe(2 * 3 * 3);
    expect(rows2.find((x) => x.condition === 'imagery' && x.stimulus === 6 && x.repetition === 1)!.metrics.ssim).toBe(0.123456);
  }, 240000);

  it('--encoding: an encoding pack whose voxel count disagrees with the subject\'s mask is refused, naming file and field', async () => {
    const bundle = join(root, 'b-enc');
    await writeBundle(bundle, true);
    const pack = join(root, 'enc-pack');
    execFileSync(process.execPath, ['bin/mirage.js', 'encoding-pack', 'stand-in', '--out', pack, '--voxels', '5', '--size', '32'], { stdio: 'ignore' });
    const manifest = JSON.parse(readFileSync(join(pack, 'encodingpack.json'), 'utf8'));
    expect(manifest.model.output.shape).toEqual(['batch', 5]);
    let err = '';
    try {
      run(['--bundle', bundle, '--out', join(root, 'out-enc'), '--size', '24', '--encoding', pack]);
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toMatch(/enc-pack\/encodingpack\.json: voxelCount: predicts 5 voxels but subject 1 .* has 4 in its mask/);
  }, 120000);

  it("scores the bundle's own reconstructions (core path the CLI uses)", async () => {
    const bundleDir = join(root, 'b2');
    await writeBundle(bundleDir, true);
    const bundle = await Bundle.open(new FsShardSource(bundleDir));
    const m = bundle.manifest;
    const items = bundleReconstructionItems(m, (ref) => bundle.tensor(ref) as Promise<Uint8Array>);
    expect(items.length).toBe(6);
    const stim = new Map(m.stimuli.map((x) => [x.id, x]));
    const opts = {
      size: 24,
      groundTruth: async (id: number) => fromUint8((await bundle.tensor(stim.get(id)!.image!)) as Uint8Array, S, S, 3),
      stimulusSet: (id: number) => stim.get(id)!.set,
    };
    const groups: number[] = [];
    const rows = await evaluateReconstructions(items, { ...opts, onGroup: (all) => void groups.push(all.length) });
    expect(rows.length).toBe(6);
    expect(groups).toEqual([3, 6]); // one group per repetition, persisted after each
    // repetition 0 of each stimulus is the ground truth itself
    for (const row of rows.filter((x) => x.repetition === 0)) {
      expect(row.metrics.ssim).toBeCloseTo(1, 6);
      expect(row.metrics.pixcorr).toBeCloseTo(1, 6);
    }
    // resuming with everything finished loads no image
    let loads = 0;
    const counted = items.map((it) => ({ ...it, load: () => (loads++, it.load()) }));
    const again = await evaluateReconstructions(counted, { ...opts, finished: rows });
    expect(loads).toBe(0);
    expect(again).toEqual(rows);
  });

  it('parses reconstruction file names', () => {
    expect(parseReconFileName('2_imagery_13_9.png')).toEqual({ subject: 2, condition: 'imagery', stimulus: 13, repetition: 9 });
    expect(parseReconFileName('2_attention_1_0.png')).toBeNull();
  });
});

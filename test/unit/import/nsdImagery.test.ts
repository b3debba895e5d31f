import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runImport } from '../../../src/node/importRun.ts';
import type { Provenance } from '../../../src/core/bundle/manifest.ts';
import { importNsdImagery, NSD_PATHS } from '../../../src/core/importers/nsdImagery.ts';
import { FIX, json, memoryWriter, nsdTree, overlay, tempDir } from './helpers.ts';

const prov: Provenance = { kind: 'real', command: 'test', createdAt: '2026-01-01T00:00:00Z', generator: { name: 't', version: '0' }, sources: [] };
const exp = json('nsd_expected.json');
const BAD = join(FIX, 'nsd_bad');

describe('import nsd-imagery (fake NSD tree in the real formats)', () => {
  it('imports betas (÷300, z-scored per run), trials, stimuli, surfaces, voxel->vertex and ROIs', async () => {
    const { writer, files } = memoryWriter();
    const used: string[] = [];
    const { body } = await importNsdImagery({ tree: nsdTree(), subject: 1, writer, provenance: prov, betaDtype: 'float32', onSource: (p) => used.push(p) });
    const m = await writer.finish(body);
    const s = m.subjects[0];
    expect(s.voxelCount).toBe(exp.voxelCount);
    expect(m.trials.length).toBe(exp.trials);
    expect(m.trials.map((t) => t.run)).toEqual(exp.exps);
    expect(m.trials[0].condition).toBe('vision');
    expect(m.trials.find((t) => t.run === 'imgB_2')?.condition).toBe('imagery');
    // repeats count up per (stimulus, condition): stimulus 0 is seen in imgA_1 and imgA_2
    expect(m.trials.filter((t) => t.stimulus === 0 && t.condition === 'imagery').map((t) => t.repeat)).toEqual([0, 1]);
    const shard = files.get(m.trials[0].betas.shard)!;
    for (const t of [0, 5, 30, 71]) {
      const tr = m.trials[t];
      expect(tr.stimulus).toBe('ABCDEFGHIJKLMNOPQR'.indexOf(exp.cues[t]));
      const row = new Float32Array(shard.buffer.slice(shard.byteOffset + tr.betas.offset, shard.byteOffset + tr.betas.offset + 4 * s.voxelCount));
      row.forEach((v, i) => expect(v).toBeCloseTo(exp.zscored[t][i], 5));
    }
    // stimuli: first 16 pixel values of stimulus 0 ([H, W, 3] uint8 from the [3, H, W] float tensor)
    const img = m.stimuli[0].image!;
    expect(Array.from(files.get(img.shard)!.subarray(img.offset, img.offset + 48))).toEqual(exp.images);
    expect(m.stimuli[12].image).toBeUndefined(); // conceptual
    expect(m.imageSize).toBe(8);
    // ROIs: V1v (label 1), V2v (3), hV4 (7) named from the ctab, voxel indices where the volume has that label
    expect(s.rois.map((r) => r.name)).toEqual(['V1v', 'V2v', 'hV4']);
    const roiShard = files.get(s.rois[0].voxels.shard)!;
    const v1 = new Int32Array(roiShard.buffer.slice(roiShard.byteOffset + s.rois[0].voxels.offset, roiShard.byteOffset + s.rois[0].voxels.offset + 4 * s.rois[0].voxels.shape[0]));
    expect(Array.from(v1)).toEqual(exp.prfLabels.flatMap((l: number, i: number) => (l === 1 ? [i] : [])));
    // surfaces: both hemispheres; every voxel centre has a vertex (the fixture puts one at each voxel centre ±0.5 mm)
    expect(s.surfaces.map((x) => x.hemi)).toEqual(['lh', 'rh']);
    const vv = s.voxelToVertex!;
    const map = new Int32Array(files.get(vv.shard)!.buffer.slice(files.get(vv.shard)!.byteOffset + vv.offset, files.get(vv.shard)!.byteOffset + vv.offset + 8 * s.voxelCount));
    // expected: mask voxels are x 1..4, y 1..3, z 1..2 (C order); the fixture's vertices are all voxel
    // centres of the 6x5x4 grid in C order, split by world x < 0 (lh) / >= 0 (rh)
    const all: Array<[number, number, number]> = [];
    for (let x = 0; x < 6; x++) for (let y = 0; y < 5; y++) for (let z = 0; z < 4; z++) all.push([x, y, z]);
    const hemiOf = (x: number) => (1.8 * x - 4.5 < 0 ? 0 : 1);
    const expected: number[] = [];
    for (let x = 1; x < 5; x++)
      for (let y = 1; y < 4; y++)
        for (let z = 1; z < 3; z++) {
          const h = hemiOf(x);
          const list = all.filter((c) => hemiOf(c[0]) === h);
          expected.push(h, list.findIndex((c) => c[0] === x && c[1] === y && c[2] === z));
        }
    expect(Array.from(map)).toEqual(expected);
    expect(used).toContain(NSD_PATHS.stimuliPkl);
  });

  it('stores float16 betas by default', async () => {
    const { writer } = memoryWriter();
    const { body } = await importNsdImagery({ tree: nsdTree(), subject: 1, writer, provenance: prov });
    expect(body.subjects[0].betaDtype).toBe('float16');
  });

  const cases: Array<[string, Record<string, string | null>, RegExp]> = [
    ['a mask whose shape differs from the betas', { [NSD_PATHS.mask('subj01')]: join(BAD, 'mask_wrong_shape.nii.gz') }, /betas_nsdimagery\.nii\.gz: dim: volume shape \[6,5,4\] differs from the mask .*nsdgeneral\.nii\.gz \[6,5,3\]/],
    ['NaNs in the betas', { [NSD_PATHS.betas('subj01')]: join(BAD, 'betas_nan.nii.gz') }, /betas_nsdimagery\.nii\.gz: volume 5: non-finite beta/],
    ['a missing run label', { [NSD_PATHS.stimuliPkl]: join(BAD, 'stimuli_missing_run.pkl3') }, /nsdimagery_stimuli\.pkl3: exps\[7\]: trial 7 has run label ""/],
    ['a missing betas file', { [NSD_PATHS.betas('subj01')]: null }, /betas_nsdimagery\.nii\.gz: imagery betas not found/],
  ];
  it.each(cases)('rejects %s with an error naming the file', async (_what, replace, re) => {
    const { writer } = memoryWriter();
    await expect(importNsdImagery({ tree: overlay(nsdTree(), replace), subject: 1, writer, provenance: prov })).rejects.toThrow(re);
  });

  it('rejects truncated gzipped betas, naming the file', async () => {
    const dir = tempDir();
    const whole = readFileSync(join(FIX, 'nsd', NSD_PATHS.betas('subj01')));
    writeFileSync(join(dir, 'cut.nii.gz'), whole.subarray(0, Math.floor(whole.length * 0.7)));
    const { writer } = memoryWriter();
    await expect(importNsdImagery({ tree: overlay(nsdTree(), { [NSD_PATHS.betas('subj01')]: join(dir, 'cut.nii.gz') }), subject: 1, writer, provenance: prov })).rejects.toThrow(
      /betas_nsdimagery\.nii\.gz: .*(corrupt or truncated gzip|gzip stream ends early)/,
    );
  });

  it('leaves nothing behind when an import fails (atomic folder write)', async () => {
    const dir = tempDir();
    const out = join(dir, 'bundle');
    await expect(
      runImport({
        out,
        quiet: true,
        build: (writer) => importNsdImagery({ tree: overlay(nsdTree(), { [NSD_PATHS.betas('subj01')]: join(BAD, 'betas_nan.nii.gz') }), subject: 1, writer, provenance: prov }),
      }),
    ).rejects.toThrow(/non-finite/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes and validates a bundle through the CLI harness', async () => {
    const dir = tempDir();
    const out = join(dir, 'bundle');
    const m = await runImport({ out, quiet: true, build: (writer, ctx) => importNsdImagery({ tree: nsdTree(), subject: 1, writer, provenance: prov, onSource: (p) => ctx.onSource(join(FIX, 'nsd', p)) }) });
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    expect(m.provenance.sources.length).toBeGreaterThanOrEqual(9);
    expect(m.provenance.sources.every((s) => /^[0-9a-f]{64}$/.test(s.sha256))).toBe(true);
    expect(readdirSync(dir)).toEqual(['bundle']);
  });
});

import { describe, expect, it } from 'vitest';
import { bytesSource, readAll } from '../../../src/core/formats/byteSource.ts';
import { readFsAnnot, readFsLabel, readFsSurface } from '../../../src/core/formats/freesurfer.ts';
import { readGiftiSurface } from '../../../src/core/formats/gifti.ts';
import { fixture, fixtureJson } from './helpers.ts';

const exp = fixtureJson('surf', 'expected.json');
const f32 = (a: number[]) => a.map((v) => Math.fround(v));

describe('FreeSurfer and GIfTI readers', () => {
  it('reads a FreeSurfer triangle surface written by nibabel', async () => {
    const s = await readFsSurface(fixture('surf', 'lh.white'));
    expect(s.vertexCount).toBe(6);
    expect(Array.from(s.vertices)).toEqual(f32(exp.vertices));
    expect(Array.from(s.faces)).toEqual(exp.faces);
    expect(s.cras).toBeUndefined();
  });

  it('reads the volume-info footer (c_ras)', async () => {
    const s = await readFsSurface(fixture('surf', 'rh.white'));
    expect(s.cras).toEqual(exp.rhCras);
    expect(Array.from(s.vertices)).toEqual(f32(exp.vertices.map((v: number) => v + 1)));
  });

  it('rejects a truncated surface naming the file', async () => {
    const b = await readAll(fixture('surf', 'lh.white'));
    await expect(readFsSurface(bytesSource(b.subarray(0, b.length - 40), 'lh.cut'))).rejects.toThrow(/lh\.cut: data: file too short/);
  });

  it('reads an annotation with its colour table', async () => {
    const a = await readFsAnnot(fixture('surf', 'lh.test.annot'));
    expect(Array.from(a.labels)).toEqual(exp.annotLabels);
    expect(a.names).toEqual(exp.annotNames);
    expect(a.colors).toEqual(exp.annotColors);
  });

  it('reads an ASCII label', async () => {
    const l = await readFsLabel(fixture('surf', 'lh.V1.label'));
    expect(Array.from(l.vertices)).toEqual([1, 2, 5]);
    expect(Array.from(l.positions.subarray(0, 3))).toEqual(f32(exp.vertices.slice(3, 6)));
  });

  it.each(['b64gz', 'b64bin', 'ascii'])('reads a GIfTI surface (%s encoding)', async (enc) => {
    const s = await readGiftiSurface(fixture('surf', `octa.${enc}.surf.gii`));
    expect(s.vertexCount).toBe(6);
    expect(Array.from(s.vertices)).toEqual(f32(exp.vertices));
    expect(Array.from(s.faces)).toEqual(exp.faces);
  });
});

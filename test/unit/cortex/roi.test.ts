import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { RoiSet, difference, intersection, parseRoiFile, union } from '../../../src/core/cortex/roi.ts';

const I = (...v: number[]) => Int32Array.from(v);

describe('ROI sets', () => {
  it('union, intersection, difference of sorted voxel sets', () => {
    expect(Array.from(union(I(1, 3, 5), I(2, 3, 9)))).toEqual([1, 2, 3, 5, 9]);
    expect(Array.from(intersection(I(1, 3, 5, 9), I(2, 3, 9)))).toEqual([3, 9]);
    expect(Array.from(difference(I(1, 3, 5, 9), I(3, 9)))).toEqual([1, 5]);
    expect(Array.from(union(I(), I(4)))).toEqual([4]);
  });

  it('keeps bundle ROIs fixed, sorts and de-duplicates user voxels, finds ROIs of a voxel', () => {
    const s = new RoiSet(20, [{ name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: [0, 1, 2] }]);
    const u = s.add({ name: 'mine', color: '#00ff00', group: 'other', source: 'user', voxels: [7, 2, 7, 5] });
    expect(Array.from(u.voxels)).toEqual([2, 5, 7]);
    expect(s.roisOfVoxel(2)).toEqual(['V1', 'mine']);
    expect(s.roisOfVoxel(9)).toEqual([]);
    expect(() => s.add({ name: 'V1', color: '#000000', group: 'other', source: 'user', voxels: [] })).toThrow(/comes with the bundle/);
    expect(() => s.add({ name: 'x', color: '#000000', group: 'other', source: 'user', voxels: [20] })).toThrow(/\[0, 20\)/);
    expect(() => s.remove('V1')).toThrow();
    s.remove('mine');
    expect(s.names).toEqual(['V1']);
  });

  it('round-trips user ROIs through JSON', () => {
    const s = new RoiSet(50, [{ name: 'V1', color: '#ff0000', group: 'early', source: 'bundle', voxels: [0, 1] }]);
    s.add({ name: 'blob A', color: '#abcdef', group: 'other', source: 'user', voxels: [10, 3, 44] });
    s.add({ name: 'B', color: '#123456', group: 'higher', source: 'user', voxels: [] });
    const text = JSON.stringify(s.exportUser(1));
    const back = parseRoiFile(text, { subject: 1, voxelCount: 50 });
    expect(back.map((r) => r.name)).toEqual(['blob A', 'B']);
    expect(Array.from(back[0].voxels)).toEqual([3, 10, 44]);
    expect(back[0].color).toBe('#abcdef');
    expect(back[1].group).toBe('higher');
    expect(back.every((r) => r.source === 'user')).toBe(true);
  });

  it('rejects bad ROI JSON with the file, field and expectation', () => {
    const good = { format: 'mirage-rois', version: 1, subject: 1, voxelCount: 10, rois: [{ name: 'a', color: '#000000', voxels: [1] }] };
    const bad = (patch: object) => JSON.stringify({ ...good, ...patch });
    const expectErr = (text: string, re: RegExp) => {
      let err: unknown;
      try {
        parseRoiFile(text, { subject: 1, voxelCount: 10 }, 'my.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BundleError);
      expect((err as Error).message).toMatch(/^my\.json/);
      expect((err as Error).message).toMatch(re);
    };
    expectErr('{not json', /not valid JSON/);
    expectErr(bad({ format: 'other' }), /format/);
    expectErr(bad({ rois: [{ name: 'a', color: 'red', voxels: [1] }] }), /rois\[0\]\.color.*#rrggbb/);
    expectErr(bad({ rois: [{ name: 'a', color: '#000000', voxels: [1.5] }] }), /rois\[0\]\.voxels\[0\]/);
    expectErr(bad({ rois: [{ name: 'a', color: '#000000', voxels: [10] }] }), /rois\[0\]\.voxels\[0\].*< 10/);
    expectErr(bad({ rois: [good.rois[0], good.rois[0]] }), /rois\[1\]\.name.*duplicate/);
    expectErr(bad({ voxelCount: 11 }), /voxelCount.*expected 10/);
    expectErr(bad({ subject: 2 }), /subject.*expected 1/);
  });
});

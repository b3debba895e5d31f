import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { PerturbationStack, type Perturbation } from '../../../src/core/cortex/perturb.ts';
import { RoiSet } from '../../../src/core/cortex/roi.ts';

const rois = new RoiSet(10, [
  { name: 'A', color: '#112233', group: 'early', source: 'bundle', voxels: [1, 2, 3] },
  { name: 'B', color: '#445566', group: 'higher', source: 'bundle', voxels: [3, 4] },
]);
const x0 = Float32Array.from({ length: 10 }, (_, i) => i + 1);

describe('perturbation stack', () => {
  it('applies in order, undoes one by one, resets', () => {
    const s = new PerturbationStack();
    s.push({ kind: 'gain', roi: 'A', k: 2 });
    s.push({ kind: 'add', roi: 'B', value: 10 });
    let r = s.apply(x0, { rois });
    // voxel 3 (value 4): doubled by A to 8, then +10 by B
    expect(Array.from(r.x)).toEqual([1, 4, 6, 18, 15, 6, 7, 8, 9, 10]);
    expect(Array.from(r.total.indices)).toEqual([1, 2, 3, 4]);
    expect(Array.from(r.total.values)).toEqual([2, 3, 14, 10]);
    expect(r.steps).toHaveLength(2);
    expect(s.undo()).toEqual({ kind: 'add', roi: 'B', value: 10 });
    r = s.apply(x0, { rois });
    expect(Array.from(r.x)).toEqual([1, 4, 6, 8, 5, 6, 7, 8, 9, 10]);
    s.replaceLast({ kind: 'gain', roi: 'A', k: 0 });
    expect(Array.from(s.apply(x0, { rois }).x.slice(0, 5))).toEqual([1, 0, 0, 0, 5]);
    s.reset();
    expect(s.length).toBe(0);
    r = s.apply(x0, { rois });
    expect(Array.from(r.x)).toEqual(Array.from(x0));
    expect(r.total.indices.length).toBe(0);
    expect(x0[1]).toBe(2); // input untouched
  });

  it('round-trips through JSON', () => {
    const items: Perturbation[] = [
      { kind: 'gain', roi: 'A', k: 0 },
      { kind: 'blob', roi: 'B', hemi: 1, vertex: 12, amplitude: -2, sigmaMm: 3 },
      { kind: 'replace', roi: 'A', trial: 5 },
      { kind: 'drive', roi: 'B', head: 'image', stimulus: 3, strength: 0.5 },
    ];
    const s = new PerturbationStack(items);
    const back = PerturbationStack.fromJSON(JSON.parse(JSON.stringify(s)));
    expect(back.toJSON()).toEqual(items);
  });

  it('rejects malformed stacks naming the field', () => {
    expect(() => PerturbationStack.fromJSON([{ kind: 'gain', roi: 'A' }], 'url')).toThrow(BundleError);
    expect(() => PerturbationStack.fromJSON([{ kind: 'gain', roi: 'A' }], 'url')).toThrow(/url: \[0\]\.k/);
    expect(() => PerturbationStack.fromJSON([{ kind: 'explode', roi: 'A' }], 'url')).toThrow(/\[0\]\.kind/);
    expect(() => PerturbationStack.fromJSON({}, 'url')).toThrow(/url/);
  });

  it('names the missing ROI', () => {
    const s = new PerturbationStack([{ kind: 'gain', roi: 'Nope', k: 0 }]);
    expect(() => s.apply(x0, { rois })).toThrow(/no ROI named "Nope"/);
  });
});

// The cortex store: worker replies count only for the selection they were asked for, and the URL
// codec is told about changes of the linked view, never of hover or worker replies.
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONTROLS, DEFAULT_CORTEX, roisFor, useCortexStore, viewFor } from '../../../src/state/cortexStore.ts';
import { cortexCodec } from '../../../src/state/cortexUrl.ts';
import type { RoiInfo, SubjectView } from '../../../src/core/cortex/protocol.ts';

const view = { subject: 1 } as SubjectView;
const roi = (name: string) => ({ name }) as RoiInfo;

afterEach(() => useCortexStore.getState().set({ ...DEFAULT_CORTEX, ...DEFAULT_CONTROLS, loaded: null, roisEdited: null }));

describe('cortex store', () => {
  it('shows a loaded subject and its ROIs only for the key they were loaded for', () => {
    useCortexStore.getState().set({ loaded: { key: 'demo|1', view, rois: [roi('V1')] } });
    const s = useCortexStore.getState();
    expect(viewFor(s, 'demo|1')).toBe(view);
    expect(roisFor(s, 'demo|1').map((r) => r.name)).toEqual(['V1']);
    expect(viewFor(s, 'demo|2')).toBeNull();
    expect(roisFor(s, 'demo|2')).toEqual([]);
    // the same empty list each time: a selector returning it does not re-render
    expect(roisFor(s, 'demo|2')).toBe(roisFor(s, 'demo|5'));
  });

  it("prefers the user's edited ROIs over the loaded ones for the same subject", () => {
    useCortexStore.getState().set({ loaded: { key: 'demo|1', view, rois: [roi('V1')] }, roisEdited: { key: 'demo|1', rois: [roi('V1'), roi('drawn 1')] } });
    expect(roisFor(useCortexStore.getState(), 'demo|1').map((r) => r.name)).toEqual(['V1', 'drawn 1']);
    useCortexStore.getState().set({ roisEdited: { key: 'demo|2', rois: [roi('other')] } });
    expect(roisFor(useCortexStore.getState(), 'demo|1').map((r) => r.name)).toEqual(['V1']);
  });

  it('the URL codec hears changes of the linked view only', () => {
    let calls = 0;
    const off = cortexCodec.subscribe(() => calls++);
    useCortexStore.getState().set({ hover: { hemi: 0, vertex: 3, x: 1, y: 2, voxels: [], rois: [], value: null } });
    useCortexStore.getState().set({ tool: 'brush', error: 'x', readyFor: 'demo|1#0' });
    expect(calls).toBe(0);
    useCortexStore.getState().set({ shape: 'flat' });
    expect(calls).toBe(1);
    off();
  });
});

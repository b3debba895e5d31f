// The prompt encoder's shape descriptor (shapeFeatures.ts): invariant to where an object is and how it
// is turned, not to what it is; the kernel classifier fits its corpus; the class embedding is a
// softmax-weighted mix of class word vectors.
import { describe, expect, it } from 'vitest';
import { renderScene } from '../../../src/core/simulate/render.ts';
import { trainingScenes } from '../../../src/core/simulate/stimuli.ts';
import { fitShapeClassifier, N_CLASSES, SHAPE_FEATURES, shapeDescriptors } from '../../../src/core/simulate/shapeFeatures.ts';
import type { ObjectClass, Scene } from '../../../src/core/simulate/world.ts';

const one = (cls: ObjectClass, x: number, y: number, angle: number, size = 0.25): Scene => ({
  background: 'grey',
  objects: [{ cls, colour: 'red', pattern: 'plain', x, y, size, angle }],
});

function dist(d: Float32Array, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < SHAPE_FEATURES; k++) s += (d[i * SHAPE_FEATURES + k] - d[j * SHAPE_FEATURES + k]) ** 2;
  return Math.sqrt(s);
}

describe('shape descriptor', () => {
  it('barely moves when an object is shifted and turned, moves when the class changes', async () => {
    const classes: ObjectClass[] = ['bar', 'ball', 'cross', 'tower', 'star'];
    const scenes: Scene[] = [];
    for (const c of classes) scenes.push(one(c, 0.5, 0.5, 0), one(c, 0.35, 0.62, 1.1));
    const d = await shapeDescriptors(scenes.map((s) => renderScene(s)));
    for (let a = 0; a < classes.length; a++) {
      const same = dist(d, 2 * a, 2 * a + 1);
      for (let b = 0; b < classes.length; b++) {
        if (b === a) continue;
        // shifted + rotated copy of the same class is closer than any other class at the same pose
        expect(same, `${classes[a]} vs ${classes[b]}`).toBeLessThan(dist(d, 2 * a, 2 * b));
      }
    }
  });

  it('the kernel classifier recovers the classes of the scenes it was fitted on', async () => {
    const scenes = trainingScenes(11, 120);
    const d = await shapeDescriptors(scenes.map((s) => renderScene(s)));
    const c = fitShapeClassifier(d, scenes);
    expect(c.centres.length).toBe(120 * SHAPE_FEATURES);
    expect(c.alpha.length).toBe(120 * N_CLASSES);
    // (K + I)α = Y − ȳ with a kernel near 1 on the diagonal: training scenes are mostly recovered
    expect(c.trainAccuracy).toBeGreaterThan(0.8);
  });
});

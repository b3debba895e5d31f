// The 18 SIMULATED NSD-Imagery test stimuli (docs/background.md §1): 6 simple (exactly: black bars at 0, 45,
// 90, 135 degrees, "+" and "×" on grey), 6 complex scenes held out of training, 6 concepts (single
// words; no single image, their vision trials show several variant images). Cue letters A–R in id order.
import type { StimulusSet } from '../bundle/manifest.ts';
import { Rng, streamFor } from '../base/rng.ts';
import { caption, CLASSES, COLOUR_NAMES, randomScene, type Background, type Scene, type SceneObject } from './world.ts';

export interface TestStimulus {
  id: number;
  name: string;
  set: StimulusSet;
  cue: string;
  caption: string;
  /** Scene rendered as the ground-truth image (simple, complex). */
  scene?: Scene;
  /** Concept word (conceptual): its semantic vector is what imagery of it drives. */
  concept?: string;
  /** Scenes of the variant images shown in vision trials of a concept. */
  variants?: Scene[];
}

export const CONCEPT_VARIANTS = 4;

const bar = (deg: number): SceneObject => ({ cls: 'bar', colour: 'black', pattern: 'plain', x: 0.5, y: 0.5, size: 0.36, angle: (deg * Math.PI) / 180 });
const cross = (deg: number): SceneObject => ({ cls: 'cross', colour: 'black', pattern: 'plain', x: 0.5, y: 0.5, size: 0.36, angle: (deg * Math.PI) / 180 });

/** Bar orientation (degrees, counter-clockwise from horizontal) of simple stimuli 0–3. */
export const SIMPLE_BAR_DEGREES = [0, 45, 90, 135] as const;

const COMPLEX: { name: string; scene: Scene }[] = [
  { name: 'red boat on water', scene: { background: 'water', objects: [{ cls: 'boat', colour: 'red', pattern: 'plain', x: 0.5, y: 0.55, size: 0.3, angle: 0 }] } },
  { name: 'tree and house on grass', scene: { background: 'grass', objects: [{ cls: 'tree', colour: 'green', pattern: 'plain', x: 0.28, y: 0.58, size: 0.22, angle: 0 }, { cls: 'house', colour: 'orange', pattern: 'plain', x: 0.7, y: 0.6, size: 0.22, angle: 0 }] } },
  { name: 'banana and apple on sand', scene: { background: 'sand', objects: [{ cls: 'banana', colour: 'yellow', pattern: 'plain', x: 0.32, y: 0.5, size: 0.2, angle: 0.6 }, { cls: 'apple', colour: 'red', pattern: 'plain', x: 0.7, y: 0.55, size: 0.17, angle: 0 }] } },
  { name: 'bird in the sky', scene: { background: 'sky', objects: [{ cls: 'bird', colour: 'black', pattern: 'plain', x: 0.45, y: 0.4, size: 0.25, angle: 0 }] } },
  { name: 'striped fish and ring at night', scene: { background: 'night', objects: [{ cls: 'fish', colour: 'blue', pattern: 'stripes', x: 0.4, y: 0.45, size: 0.22, angle: 0.3 }, { cls: 'ring', colour: 'yellow', pattern: 'plain', x: 0.72, y: 0.72, size: 0.14, angle: 0 }] } },
  // the "artwork" of the real set: an abstract arrangement
  { name: 'artwork: stars and boxes', scene: { background: 'room', objects: [{ cls: 'star', colour: 'purple', pattern: 'dots', x: 0.3, y: 0.3, size: 0.18, angle: 0.2 }, { cls: 'box', colour: 'blue', pattern: 'stripes', x: 0.68, y: 0.35, size: 0.16, angle: 0.8 }, { cls: 'star', colour: 'orange', pattern: 'plain', x: 0.5, y: 0.72, size: 0.16, angle: 1.1 }] } },
];

/** Concepts: a word and how to draw scenes that show it (the variants of its vision trials). */
const CONCEPTS: { word: string; make: (rng: Rng) => Scene }[] = [
  { word: 'stripes', make: (r) => randomScene(r, { forcePattern: 'stripes' }) },
  { word: 'animal', make: (r) => randomScene(r, { forceClass: r.pick(['fish', 'bird'] as const) }) },
  { word: 'fruit', make: (r) => randomScene(r, { forceClass: r.pick(['banana', 'apple'] as const) }) },
  { word: 'red', make: (r) => randomScene(r, { forceColour: 'red' }) },
  { word: 'water', make: (r) => randomScene(r, { background: 'water' }) },
  { word: 'building', make: (r) => randomScene(r, { forceClass: r.pick(['house', 'tower'] as const) }) },
];

export function cueLetter(id: number): string {
  return String.fromCharCode(65 + id);
}

export function testStimuli(seed: number): TestStimulus[] {
  const out: TestStimulus[] = [];
  const grey = (o: SceneObject): Scene => ({ background: 'grey', objects: [o] });
  const simple: [string, Scene, string][] = [
    ['bar 0°', grey(bar(0)), 'a black horizontal bar on grey'],
    ['bar 45°', grey(bar(45)), 'a black diagonal bar tilted right on grey'],
    ['bar 90°', grey(bar(90)), 'a black vertical bar on grey'],
    ['bar 135°', grey(bar(135)), 'a black diagonal bar tilted left on grey'],
    ['plus', grey(cross(0)), 'a black plus sign on grey'],
    ['times', grey(cross(45)), 'a black letter x on grey'],
  ];
  simple.forEach(([name, scene, cap], i) => out.push({ id: i, name, set: 'simple', cue: cueLetter(i), caption: cap, scene }));
  COMPLEX.forEach((c, i) => out.push({ id: 6 + i, name: c.name, set: 'complex', cue: cueLetter(6 + i), caption: caption(c.scene), scene: c.scene }));
  const rng = streamFor(seed, 'concept-variants');
  CONCEPTS.forEach((c, i) => {
    const variants = Array.from({ length: CONCEPT_VARIANTS }, () => c.make(rng));
    out.push({ id: 12 + i, name: c.word, set: 'conceptual', cue: cueLetter(12 + i), caption: c.word, concept: c.word, variants });
  });
  return out;
}

/** True when a training scene matches a held-out complex scene (same background and object classes). */
export function isHeldOut(scene: Scene): boolean {
  const key = (s: Scene) => `${s.background}|${s.objects.map((o) => o.cls).sort().join(',')}`;
  const k = key(scene);
  return COMPLEX.some((c) => key(c.scene) === k);
}

/**
 * Training scenes: random scenes, skipping any that matches a held-out complex stimulus. `stream`
 * names the random stream (another stream gives another, independent set of the same kind).
 */
export function trainingScenes(seed: number, n: number, stream = 'training-scenes'): Scene[] {
  const rng = streamFor(seed, stream);
  const out: Scene[] = [];
  while (out.length < n) {
    const s = randomScene(rng);
    if (!isHeldOut(s)) out.push(s);
  }
  return out;
}

/**
 * Plain-background single-object scenes: one object per scene, the classes in turn (each as often),
 * random colour, plain, near the centre, half-size 0.2–0.4 (up to a bar stimulus's 0.36), any angle,
 * on plain grey. No simulated subject ever sees them: the demo generator's corpus adds them to the
 * world's training scenes, as a real generator's training set holds simple graphics that no fMRI
 * training image shows (docs/simulation.md §4.2).
 */
export function plainScenes(seed: number, n: number, stream = 'plain-scenes'): Scene[] {
  const rng = streamFor(seed, stream);
  return Array.from({ length: n }, (_, i) => ({
    background: 'grey' as const,
    objects: [{
      cls: CLASSES[i % CLASSES.length],
      colour: rng.pick(COLOUR_NAMES),
      pattern: 'plain' as const,
      x: rng.uniform(0.35, 0.65),
      y: rng.uniform(0.35, 0.65),
      size: rng.uniform(0.2, 0.4),
      angle: rng.uniform(0, Math.PI),
    }],
  }));
}

export type { Background };

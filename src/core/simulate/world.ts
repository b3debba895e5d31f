// The SIMULATED stimulus world: scenes of simple objects (class, colour, pattern, position, size,
// orientation) on a background, a caption generated from each scene, and a semantic code (the
// "meaning" that drives higher visual areas). Everything here is procedural and seeded.
import { SEMANTIC_DIM } from './dims.ts';
import { Rng, streamFor } from '../base/rng.ts';

export const CATEGORIES = ['animal', 'fruit', 'building', 'plant', 'toy', 'vehicle', 'line'] as const;
export type Category = (typeof CATEGORIES)[number];

export const CLASSES = [
  'ball', 'box', 'ring', 'star', 'banana', 'apple', 'fish', 'bird', 'tree', 'house', 'tower', 'boat', 'bar', 'cross',
] as const;
export type ObjectClass = (typeof CLASSES)[number];

export const CLASS_CATEGORY: Record<ObjectClass, Category> = {
  ball: 'toy', box: 'toy', ring: 'toy', star: 'toy', banana: 'fruit', apple: 'fruit', fish: 'animal', bird: 'animal',
  tree: 'plant', house: 'building', tower: 'building', boat: 'vehicle', bar: 'line', cross: 'line',
};

export const COLOURS = {
  red: [220, 40, 40], green: [40, 170, 60], blue: [40, 80, 220], yellow: [240, 210, 40], purple: [140, 60, 180],
  orange: [240, 140, 30], white: [245, 245, 245], black: [15, 15, 15], brown: [130, 80, 40],
} as const;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

export const BACKGROUNDS = ['grey', 'grass', 'sky', 'sand', 'water', 'night', 'room'] as const;
export type Background = (typeof BACKGROUNDS)[number];

export const PATTERNS = ['plain', 'stripes', 'dots'] as const;
export type Pattern = (typeof PATTERNS)[number];

export interface SceneObject {
  cls: ObjectClass;
  colour: Colour;
  pattern: Pattern;
  /** Centre in [0, 1] image coordinates (x right, y down). */
  x: number;
  y: number;
  /** Half-size as a fraction of the image side. */
  size: number;
  /** Orientation in radians (counter-clockwise, 0 = horizontal). */
  angle: number;
}

export interface Scene {
  background: Background;
  objects: SceneObject[];
}

/** The words of the world (captions and concepts use only these). */
export function vocabularyWords(): string[] {
  const words = new Set<string>([
    'a', 'an', 'and', 'on', 'in', 'at', 'the', 'of', 'with', 'left', 'right', 'top', 'bottom', 'middle', 'small', 'large',
    'striped', 'dotted', 'tilted', 'vertical', 'horizontal', 'diagonal', 'plus', 'sign', 'letter', 'x',
    ...CLASSES, ...CATEGORIES, ...COLOUR_NAMES, ...BACKGROUNDS, ...PATTERNS,
  ]);
  return [...words];
}

// ---------- semantic code ----------

/** Word vectors in R^SEMANTIC_DIM: a class is its category's vector plus its own; seeded, unit scale. */
export class SemanticSpace {
  readonly dim = SEMANTIC_DIM;
  private readonly vecs = new Map<string, Float32Array>();

  constructor(seed: number) {
    const rng = streamFor(seed, 'semantic-space');
    const rand = () => {
      const v = rng.normals(SEMANTIC_DIM);
      return normalise(v);
    };
    for (const c of CATEGORIES) this.vecs.set(c, rand());
    for (const cls of CLASSES) {
      const own = rand();
      const cat = this.vecs.get(CLASS_CATEGORY[cls])!;
      this.vecs.set(cls, normalise(own.map((x, i) => 0.6 * x + 0.8 * cat[i])));
    }
    for (const w of [...COLOUR_NAMES, ...BACKGROUNDS, ...PATTERNS]) if (!this.vecs.has(w)) this.vecs.set(w, rand());
  }

  word(w: string): Float32Array {
    const v = this.vecs.get(w);
    if (!v) throw new Error(`SemanticSpace: no vector for word "${w}"`);
    return v;
  }

  has(w: string): boolean {
    return this.vecs.has(w);
  }

  /**
   * Semantic code of a scene: mean over objects of (class + 0.5 colour + 0.4 pattern, if any), plus
   * 0.5 background (0 for the plain grey of the simple stimuli). `attributes` scales the colour,
   * pattern and background terms (imagery keeps fewer of them: docs/simulation.md §5).
   */
  scene(s: Scene, attributes = 1): Float32Array {
    const out = new Float32Array(SEMANTIC_DIM);
    const n = Math.max(1, s.objects.length);
    for (const o of s.objects) {
      const c = this.word(o.cls);
      const col = this.word(o.colour);
      const pat = o.pattern === 'plain' ? null : this.word(o.pattern);
      for (let i = 0; i < SEMANTIC_DIM; i++) out[i] += (c[i] + attributes * (0.5 * col[i] + (pat ? 0.4 * pat[i] : 0))) / n;
    }
    if (s.background !== 'grey') {
      const b = this.word(s.background);
      for (let i = 0; i < SEMANTIC_DIM; i++) out[i] += attributes * 0.5 * b[i];
    }
    return out;
  }
}

function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const k = 1 / Math.sqrt(s || 1);
  return v.map((x) => x * k);
}

// ---------- scenes and captions ----------

const TRAIN_CLASSES: ObjectClass[] = [...CLASSES];

/** A random training scene: 1–3 objects, random attributes. */
export function randomScene(rng: Rng, opts: { background?: Background; forceClass?: ObjectClass; forceColour?: Colour; forcePattern?: Pattern } = {}): Scene {
  const nObj = 1 + rng.int(3);
  const objects: SceneObject[] = [];
  for (let k = 0; k < nObj; k++) {
    const size = nObj === 1 ? rng.uniform(0.18, 0.34) : rng.uniform(0.1, 0.22);
    objects.push({
      cls: k === 0 && opts.forceClass ? opts.forceClass : rng.pick(TRAIN_CLASSES),
      colour: k === 0 && opts.forceColour ? opts.forceColour : rng.pick(COLOUR_NAMES),
      pattern: k === 0 && opts.forcePattern ? opts.forcePattern : rng.next() < 0.7 ? 'plain' : rng.pick(['stripes', 'dots'] as const),
      x: rng.uniform(0.2, 0.8),
      y: rng.uniform(0.2, 0.8),
      size,
      angle: rng.uniform(0, Math.PI),
    });
  }
  return { background: opts.background ?? rng.pick(BACKGROUNDS), objects };
}

function where(o: SceneObject): string {
  const h = o.x < 0.4 ? 'left' : o.x > 0.6 ? 'right' : '';
  const v = o.y < 0.4 ? 'top' : o.y > 0.6 ? 'bottom' : '';
  if (!h && !v) return 'in the middle';
  return `at the ${[v, h].filter(Boolean).join(' ')}`;
}

/**
 * The indefinite article before `word`: "an" before a vowel sound. Spelling stands in for sound,
 * which holds for every word of this world's vocabulary (none starts with a silent h or a "you" u).
 */
export function indefiniteArticle(word: string): 'a' | 'an' {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

function describe(o: SceneObject, withPlace: boolean): string {
  const size = o.size > 0.26 ? 'large ' : o.size < 0.13 ? 'small ' : '';
  const pat = o.pattern === 'stripes' ? 'striped ' : o.pattern === 'dots' ? 'dotted ' : '';
  const phrase = `${size}${pat}${o.colour} ${o.cls}`;
  return `${indefiniteArticle(phrase)} ${phrase}${withPlace ? ` ${where(o)}` : ''}`;
}

/** A caption generated from the scene, e.g. "a large red ball at the top left and a blue fish on grass". */
export function caption(s: Scene): string {
  const parts = s.objects.map((o) => describe(o, s.objects.length > 1));
  const objs = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  const bg = s.background === 'grey' ? 'on grey' : s.background === 'water' || s.background === 'sky' ? `in the ${s.background}` : `on ${s.background}`;
  return `${objs} ${bg}`;
}

/** Tokenises a caption into vocabulary words (lower case, punctuation dropped). */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

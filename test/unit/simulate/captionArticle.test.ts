// "a orange ring": the demo captioner chose its article before the colour. The article must follow
// the next word's sound, both in the world's own captions and in the demo pack's caption readout,
// for every colour and shape word of the vocabulary.
import { describe, expect, it } from 'vitest';
import { captionGraph } from '../../../src/core/simulate/demoPack.ts';
import { BACKGROUNDS, CLASSES, COLOUR_NAMES, caption, indefiniteArticle, type Scene } from '../../../src/core/simulate/world.ts';
import { vocabulary } from '../../../src/core/simulate/encoders.ts';
import { PROMPT_DIM, PROMPT_TOKENS } from '../../../src/core/simulate/dims.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';

/** The words of the vocabulary that start with a vowel sound (written out, not derived). */
const VOWEL_SOUND = new Set(['orange', 'apple']);
const expected = (word: string) => (VOWEL_SOUND.has(word) ? 'an' : 'a');

describe('indefinite articles', () => {
  it('follow the sound of every colour, shape, size and pattern word', () => {
    for (const w of [...COLOUR_NAMES, ...CLASSES, 'large', 'small', 'striped', 'dotted']) expect(`${indefiniteArticle(w)} ${w}`).toBe(`${expected(w)} ${w}`);
  });

  it("in the world's captions: every colour before every shape", () => {
    for (const colour of COLOUR_NAMES) {
      for (const cls of CLASSES) {
        const scene: Scene = { background: 'grey', objects: [{ cls, colour, pattern: 'plain', x: 0.5, y: 0.5, size: 0.2, angle: 0 }] };
        expect(caption(scene)).toBe(`${expected(colour)} ${colour} ${cls} on grey`);
      }
    }
  });

  it("in the demo pack's caption readout: the article agrees with the colour it then chooses", async () => {
    const vocab = vocabulary();
    const vIndex = new Map(vocab.map((w, i) => [w, i]));
    const slots = [COLOUR_NAMES as readonly string[], CLASSES as readonly string[], BACKGROUNDS as readonly string[]];
    const slotCols = slots.map((s) => s.length);
    const nOut = slotCols.reduce((a, b) => a + b, 0);
    const p = PROMPT_TOKENS * PROMPT_DIM;
    // Readout o listens to prompt feature o alone, so a prompt with features on picks those words.
    const coef = new Float64Array(nOut * p);
    for (let o = 0; o < nOut; o++) coef[o * p + o] = 1;
    const sol = { coef, intercept: new Float64Array(nOut) };
    const combos = COLOUR_NAMES.flatMap((colour, c) => CLASSES.map((cls, k) => ({ colour, cls, c, k })));
    const prompt = new Float32Array(combos.length * p);
    const bg = BACKGROUNDS.length - 1;
    combos.forEach(({ c, k }, b) => {
      prompt[b * p + c] = 1;
      prompt[b * p + slotCols[0] + k] = 1;
      prompt[b * p + slotCols[0] + slotCols[1] + bg] = 1;
    });
    const session = await createSession(captionGraph(sol, vocab, vIndex, slotCols));
    const seq = 5;
    const out = await session.run({
      prompt_features: new ort.Tensor('float32', prompt, [combos.length, PROMPT_TOKENS, PROMPT_DIM]),
      input_ids: new ort.Tensor('int64', new BigInt64Array(combos.length * seq), [combos.length, seq]),
    });
    await session.release();
    const logits = out.logits.data as Float32Array;
    const V = vocab.length;
    combos.forEach(({ colour, cls }, b) => {
      const words = Array.from({ length: seq }, (_, t) => {
        let arg = 0;
        for (let v = 1; v < V; v++) if (logits[(b * seq + t) * V + v] > logits[(b * seq + t) * V + arg]) arg = v;
        return vocab[arg];
      });
      expect(words.join(' ')).toBe(`${expected(colour)} ${colour} ${cls} on ${BACKGROUNDS[bg]}`);
    });
  });
});

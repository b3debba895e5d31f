import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DisallowedPickleError } from '../../../src/core/formats/errors.ts';
import {
  NdArray,
  PyBytes,
  dictGet,
  isTuple,
  isLazy,
  ndarrayStrings,
  ndarrayToFloat64,
  readRows,
  unpickle,
  type PyValue,
} from '../../../src/core/formats/pickle.ts';
import { FIX, fixture, fixtureJson } from './helpers.ts';

const exp = fixtureJson('pickle', 'mixed.json');
const arr = (v: PyValue) => Array.from(ndarrayToFloat64(v as NdArray));

describe('safe unpickler', () => {
  it.each([2, 3, 4, 5])('reads numpy arrays, strings and numbers from protocol %i exactly', async (proto) => {
    const file = `mixed_p${proto}.pkl`;
    const d = await unpickle(fixture('pickle', file));
    const g = (k: string) => dictGet(d, k, file);
    expect(arr(g('a'))).toEqual(exp.a);
    expect((g('a') as NdArray).shape).toEqual([2, 3]);
    expect(arr(g('b'))).toEqual(exp.b);
    expect((g('fortran') as NdArray).fortranOrder).toBe(true);
    expect(arr(g('fortran'))).toEqual(exp.fortran);
    expect(arr(g('u8'))).toEqual(exp.u8);
    expect(arr(g('be'))).toEqual(exp.be);
    expect(arr(g('f16'))).toEqual(exp.f16);
    expect(arr(g('bool')).map(Boolean)).toEqual(exp.bool);
    expect(ndarrayStrings(g('strs') as NdArray)).toEqual(exp.strs);
    expect(ndarrayStrings(g('bstrs') as NdArray)).toEqual(exp.bstrs);
    expect((g('empty') as NdArray).shape).toEqual([0, 3]);
    expect(g('scalar')).toBe(exp.scalar);
    expect(g('iscalar')).toBe(exp.iscalar);
    expect(g('s')).toBe(exp.s);
    expect(g('n')).toBeNull();
    const t = g('t');
    expect(isTuple(t)).toBe(true);
    expect(t).toEqual([1, 2.5, true, false]);
    expect(g('l')).toEqual([1, -2, 3.25, 'x']);
    expect(Array.from((g('bytes') as PyBytes).data as Uint8Array)).toEqual([0, 1, 255]);
    expect(String(g('big'))).toBe(exp.big);
    expect(g('neg')).toBe(exp.neg);
    const nested = dictGet(g('nested'), 'k', file) as PyValue[];
    expect(arr(nested[0])).toEqual([0, 1, 2]);
  });

  it('accepts numpy 2 module names (numpy._core) as well as numpy.core', async () => {
    const raw = new TextDecoder('latin1').decode(readFileSync(join(FIX, 'pickle', 'mixed_p2.pkl')));
    expect(raw).toContain('numpy.core.multiarray\n_reconstruct\n');
    const renamed = raw.replaceAll('numpy.core.multiarray\n', 'numpy._core.multiarray\n');
    const { bytesSource } = await import('../../../src/core/formats/byteSource.ts');
    const d = await unpickle(bytesSource(Uint8Array.from(renamed, (c) => c.charCodeAt(0)), 'np2.pkl'));
    expect(arr(dictGet(d, 'a', 'np2.pkl'))).toEqual(exp.a);
  });

  it('reads protocol-5 out-of-band buffers when they are supplied, and says so when not', async () => {
    const buffers = [0, 1].map((i) => new Uint8Array(readFileSync(join(FIX, 'pickle', `oob_p5.buf${i}`))));
    expect(buffers.length).toBe(exp.oob.buffers);
    const d = await unpickle(fixture('pickle', 'oob_p5.pkl'), { buffers });
    expect(arr(dictGet(d, 'x', 'oob'))).toEqual(exp.oob.x);
    expect(arr(dictGet(d, 'y', 'oob'))).toEqual(exp.oob.y);
    await expect(unpickle(fixture('pickle', 'oob_p5.pkl'))).rejects.toThrow(/oob_p5\.pkl.*out-of-band buffer/);
  });

  it('refuses an os.system reduce without running it, naming the class and the file', async () => {
    const p = unpickle(fixture('pickle', 'bad_os_system.pkl'));
    await expect(p).rejects.toBeInstanceOf(DisallowedPickleError);
    await expect(unpickle(fixture('pickle', 'bad_os_system.pkl'))).rejects.toThrow(/bad_os_system\.pkl.*posix\.system.*not on the allow-list/);
  });

  it('refuses an OrderedDict subclass from a script (a plain OrderedDict is data and is read)', async () => {
    await expect(unpickle(fixture('pickle', 'bad_ordereddict.pkl'))).rejects.toThrow(/bad_ordereddict\.pkl.*__main__\.SubDict/);
  });

  it('leaves big arrays on disk and reads row blocks of them', async () => {
    const e = fixtureJson('pickle', 'ridge_head.json');
    const d = await unpickle(fixture('pickle', 'ridge_head.pkl'), { lazyBytes: 64 });
    const coef = dictGet(d, 'coef', 'ridge_head.pkl') as NdArray;
    expect(isLazy(coef.data)).toBe(true);
    expect(coef.shape).toEqual(e.shape);
    const rows = await readRows(coef, 2, 3);
    expect(Array.from(rows)).toEqual(e.coef.slice(2 * 9, 5 * 9).map((v: number) => Math.fround(v)));
  });

  it('names the file when the pickle is cut short', async () => {
    const whole = new Uint8Array(readFileSync(join(FIX, 'pickle', 'mixed_p4.pkl')));
    const { bytesSource } = await import('../../../src/core/formats/byteSource.ts');
    await expect(unpickle(bytesSource(whole.subarray(0, 300), 'cut.pkl'))).rejects.toThrow(/cut\.pkl.*ends early/);
  });
});

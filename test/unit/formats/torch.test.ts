import { describe, expect, it } from 'vitest';
import { bytesSource, readAll } from '../../../src/core/formats/byteSource.ts';
import { dictGet, type PyValue } from '../../../src/core/formats/pickle.ts';
import { loadTorch, tensorRows, tensorValues, TorchTensor } from '../../../src/core/formats/torch.ts';
import { fixture, fixtureJson } from './helpers.ts';

const exp = fixtureJson('torch', 'mixed.json');

describe('PyTorch .pt reader', () => {
  it('reads tensors of several dtypes, a strided view and a list from torch.save exactly', async () => {
    const { root } = await loadTorch(fixture('torch', 'mixed.pt'));
    const t = (k: string) => dictGet(root, k, 'mixed.pt') as unknown as TorchTensor;
    expect(t('w').shape).toEqual([3, 4]);
    expect(t('w').dtype).toBe('float32');
    expect(Array.from(await tensorValues(t('w')))).toEqual(exp.w);
    expect(Array.from(await tensorValues(t('h')))).toEqual(exp.h);
    expect(t('bf').dtype).toBe('bfloat16');
    expect(Array.from(await tensorValues(t('bf')))).toEqual(exp.bf);
    expect(Array.from(await tensorValues(t('i')))).toEqual(exp.i);
    expect(Array.from(await tensorValues(t('u8')))).toEqual(exp.u8);
    expect(t('view').contiguous).toBe(false);
    expect(t('view').shape).toEqual(exp.viewShape);
    expect(Array.from(await tensorValues(t('view')))).toEqual(exp.view);
    expect(Array.from(await tensorRows(t('base'), 1, 2))).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
    const list = dictGet(root, 'list', 'mixed.pt') as PyValue[];
    expect(Array.from(await tensorValues(list[1] as unknown as TorchTensor))).toEqual([0, 0]);
    expect(dictGet(root, 'name', 'mixed.pt')).toBe('tensors');
  });

  it('reads a top-level list of tensors', async () => {
    const { root } = await loadTorch(fixture('torch', 'list.pt'));
    expect(Array.isArray(root)).toBe(true);
    expect(Array.from(await tensorValues((root as PyValue[])[0] as unknown as TorchTensor))).toEqual([7, 7, 7, 7]);
  });

  it('names the file when the zip is truncated', async () => {
    const whole = await readAll(fixture('torch', 'mixed.pt'));
    await expect(loadTorch(bytesSource(whole.subarray(0, whole.length - 30), 'cut.pt'))).rejects.toThrow(/cut\.pt.*(zip|truncated)/);
  });
});

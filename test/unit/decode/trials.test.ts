import { describe, expect, it } from 'vitest';
import { averageTrialBetas, stackTrialBetas } from '../../../src/core/decode/trials.ts';

const reader = {
  async trialBetas(i: number) {
    return i === 9 ? new Float32Array(2) : Float32Array.from([i, 10 * i, 100 * i]);
  },
};

describe('trial betas', () => {
  it('stacks rows in the order asked and averages repeats', async () => {
    expect(Array.from(await stackTrialBetas(reader, [2, 0]))).toEqual([2, 20, 200, 0, 0, 0]);
    expect(Array.from(await averageTrialBetas(reader, [1, 2, 3]))).toEqual([2, 20, 200]);
  });
  it('refuses mixed lengths and empty lists', async () => {
    await expect(stackTrialBetas(reader, [1, 9])).rejects.toThrow(/mixing subjects/);
    await expect(stackTrialBetas(reader, [])).rejects.toThrow(/no trials/);
  });
});

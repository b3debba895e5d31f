// A grid of evaluation ResultRows (condition x stimulus x repetition, stimuli 0-5 'simple' and 6-11
// 'complex') for tests of the tables and the dashboard; each test says how many repetitions and
// what metrics a row has, so the expected means stay readable in the test itself.
import type { ResultRow } from '../../../src/core/evaluate/tables.ts';

export interface RowGridOptions {
  method: string;
  repetitions: number;
  metrics(condition: 'vision' | 'imagery', stimulus: number, repetition: number): ResultRow['metrics'];
}

export function resultRowGrid({ method, repetitions, metrics }: RowGridOptions): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const condition of ['vision', 'imagery'] as const)
    for (let stimulus = 0; stimulus < 12; stimulus++)
      for (let repetition = 0; repetition < repetitions; repetition++)
        rows.push({
          method,
          subject: 1,
          condition,
          stimulus,
          set: stimulus < 6 ? 'simple' : 'complex',
          repetition,
          metrics: metrics(condition, stimulus, repetition),
        });
  return rows;
}

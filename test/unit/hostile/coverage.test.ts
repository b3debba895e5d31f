// Every case the generator wrote (test/fixtures/hostile/cases.json) is asserted by some hostile test:
// a case added to hostile.py without a test fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostileJson } from './helpers.ts';

describe('hostile corpus coverage', () => {
  it('each case of cases.json is named in a test of test/unit/hostile', () => {
    const cases = Object.keys(hostileJson<Record<string, string>>('cases.json'));
    expect(cases.length).toBeGreaterThan(50);
    const tests = readdirSync(import.meta.dirname)
      .filter((f) => f.endsWith('.test.ts') && f !== 'coverage.test.ts')
      .map((f) => readFileSync(join(import.meta.dirname, f), 'utf8'))
      .join('\n');
    expect(cases.filter((c) => !tests.includes(`'${c}'`))).toEqual([]);
  });
});

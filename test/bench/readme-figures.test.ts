import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type BenchResults, withBenchmarks } from '../../bench/readme-section';

describe('README benchmark section', () => {
  it('is exactly what bench/results.json renders to', () => {
    const readme = readFileSync('README.md', 'utf8');
    const results = JSON.parse(readFileSync('bench/results.json', 'utf8')) as BenchResults;
    expect(readme).toBe(withBenchmarks(readme, results));
  });
});

import { describe, expect, it } from 'vitest';
import type { BenchResults } from '../../bench/readme-section';
import { mergePartialRun, tagTargets } from '../../bench/results-file';

const target = (name: string) => ({ name, figure: 0, target: '0', met: true });
const machine = { cpu: 'x', cores: 2, memoryGb: 4, node: 'v20.0.0' };

describe('bench results file', () => {
  it('tags each target with the part that pushed it', () => {
    const tagged = tagTargets(
      [target('a'), target('b'), target('c')],
      [
        { part: 'getflow', from: 0 },
        { part: 'cold', from: 1 },
        { part: 'load', from: 3 },
      ],
    );
    expect(tagged.map((each) => each.part)).toEqual(['getflow', 'cold', 'cold']);
  });

  it('replaces only the part a partial run measured, keeping the other parts and their targets in order', () => {
    const previous: BenchResults = {
      ranAt: '2026-01-01T00:00:00.000Z',
      machine,
      getflow: [],
      pollerMemory: [],
      poller: [],
      targets: [
        { ...target('getflow one'), part: 'getflow' },
        { ...target('poller one'), part: 'poller' },
        { ...target('old load'), part: 'load' },
      ],
    };
    const partial = {
      ranAt: '2026-02-02T00:00:00.000Z',
      machine,
      accountLoad: { callers: 1 },
      targets: [{ ...target('new load'), part: 'load' }],
    } as unknown as BenchResults;
    const merged = mergePartialRun(previous, partial, 'load');
    expect(merged).toMatchObject({
      ranAt: previous.ranAt,
      getflow: [],
      poller: [],
      pollerMemory: [],
      accountLoad: { callers: 1 },
      partsRun: { load: { ranAt: partial.ranAt, machine } },
    });
    expect(merged.targets?.map((each) => each.name)).toEqual(['getflow one', 'poller one', 'new load']);
  });
});

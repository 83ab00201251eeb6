import { describe, expect, it } from 'vitest';
import { type ColdStartResult, coldStartTargets } from '../../bench/cold-start';
import { renderBenchmarks } from '../../bench/readme-section';

const row = (
  handler: ColdStartResult['handler'],
  firstAnswerMs: number,
  bundleBytes = 1024,
): ColdStartResult => ({
  handler,
  bundleBytes,
  requireMs: null,
  firstAnswerMs,
  storeCalls: null,
  camsCalls: null,
  runs: 11,
});

describe('cold-start targets', () => {
  it('judges the figures as measured, not as rounded for display', () => {
    // 0.3349 shows as 0.33 but is above ⅓; 350.04 KB shows as 350 but is above 350.
    const targets = coldStartTargets(
      [
        row('http: watched flow (store)', 20 + 0.3349 * 60, 350.04 * 1024),
        row('sdk', 80),
        row('node only', 20),
      ],
      [{ function: 'http', bytes: 350.04 * 1024, files: ['index.js'] }],
    );
    expect(targets.map(({ name, figure, met }) => [name, figure, met])).toEqual([
      ['HTTP code loaded by the first answer KB, watched flow', 350, false],
      ['first answer above node, watched flow / sdk', 0.33, false],
      ['HTTP function deployed code KB (every file of dist/http)', 350, false],
    ]);
  });

  it('names the commit and, for a part run on its own elsewhere, that machine', () => {
    const machine = { cpu: 'A', cores: 2, memoryGb: 4, node: 'v20.1.0' };
    const rendered = renderBenchmarks({
      ranAt: '2026-01-01T00:00:00.000Z',
      commit: 'aaaaaaaaaaaa',
      machine,
      partsRun: {
        cold: {
          ranAt: '2026-02-02T00:00:00.000Z',
          commit: 'bbbbbbbbbbbb-dirty',
          machine: { ...machine, cpu: 'B' },
        },
      },
      coldStart: [row('node only', 20)],
      deployed: [{ function: 'http', bytes: 2048, files: ['index.js', 'undici.js'] }],
    });
    expect(rendered).toContain('Latest run: 2026-01-01 at commit aaaaaaaaaaaa, A, 2 cores');
    expect(rendered).toContain(
      '(run 2026-02-02 on its own at commit bbbbbbbbbbbb-dirty, on B, 2 cores, 4 GB, Node 20.1.0)',
    );
    expect(rendered).toContain('http 2.0 KB (index.js, undici.js)');
  });
});

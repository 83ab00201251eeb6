import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json';
import { bundleOptions } from '../../scripts/bundle-options.mjs';

const repoRoot = resolve(__dirname, '../..');

// The same suite `.ci/run` runs under Node 20.10.0, here under the Node of `npm test`, so it
// cannot rot on a machine without that binary.
describe('built-bundle suite (test/bundles/bundles.node-test.ts)', () => {
  it(`passes under node:test on this Node (${process.version})`, () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/bundles/bundles.node-test.ts'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
    );
    const summary = /^# pass (\d+)\n# fail (\d+)/m.exec(run.stdout);
    expect({ status: run.status, failed: summary?.[2] }, run.stdout + run.stderr).toEqual({
      status: 0,
      failed: '0',
    });
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(5);
  });
});

describe('Node 20.10 support', () => {
  it('engines and the esbuild target both name Node 20.10, the Node 20 FC documents', () => {
    expect(packageJson.engines.node).toBe('>=20.10');
    expect(bundleOptions.target).toBe('node20.10');
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(__dirname, '../..');
const scratch: string[] = [];
afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

/** A folder of test files as they would sit in test/, each name to its source. */
function folderOf(files: Record<string, string>): string {
  const directory = mkdtempSync(join(tmpdir(), 'cfw-ci-summary-'));
  scratch.push(directory);
  for (const [name, source] of Object.entries(files)) writeFileSync(join(directory, name), source);
  return directory;
}

/** Only what a run needs: none of this vitest worker's own VITEST_* variables. */
const plainEnv = { PATH: process.env.PATH ?? '' };

/** The real vitest over `files`, writing the JSON report .ci/run reads; its exit code. */
function vitestRun(files: Record<string, string>): { report: string; status: number } {
  const directory = folderOf(files);
  const report = join(directory, 'vitest-report.json');
  const run = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--globals',
      '--reporter=json',
      `--outputFile=${report}`,
    ],
    { cwd: directory, env: plainEnv, encoding: 'utf8', timeout: 60_000 },
  );
  return { report, status: run.status ?? 1 };
}

/** The real node:test TAP reporter over `files`, as .ci/run runs the bundle suite; its exit code. */
function nodeTestRun(files: Record<string, string>): { tap: string; status: number } {
  const directory = folderOf(files);
  const tap = join(directory, 'bundles.tap');
  const run = spawnSync(
    process.execPath,
    ['--test', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...Object.keys(files)],
    { cwd: directory, env: plainEnv, encoding: 'utf8', timeout: 60_000 },
  );
  return { tap, status: run.status ?? 1 };
}

/** .ci/run's last step: the summary over both runs; its whole output. */
function summary(options: { status: number; bundleStatus: number; report?: string; tap?: string }): string {
  const run = spawnSync(process.execPath, [join(repoRoot, '.ci/summary.mjs')], {
    cwd: repoRoot,
    env: {
      ...plainEnv,
      STATUS: String(options.status),
      BUNDLE_STATUS: String(options.bundleStatus),
      VITEST_REPORT: options.report ?? join(tmpdir(), 'no-such-report.json'),
      BUNDLE_TAP: options.tap ?? join(tmpdir(), 'no-such-report.tap'),
    },
    encoding: 'utf8',
  });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

const cannotLoad =
  "import { nothing } from './does-not-exist.mjs';\nit('never runs', () => expect(nothing).toBe(1));\n";
const onePassOneFail = "it('passes', () => expect(1).toBe(1));\nit('fails', () => expect(1).toBe(2));\n";
const passing = "it('passes', () => expect(1).toBe(1));\n";
const greenBundles = "import test from 'node:test';\ntest('runs on this Node', () => {});\n";

describe(".ci/run's summary line", () => {
  it('counts a test file that cannot load even when another file fails a test', () => {
    const vitest = vitestRun({ 'load.test.mjs': cannotLoad, 'one.test.mjs': onePassOneFail });
    const bundles = nodeTestRun({ 'bundles.test.mjs': greenBundles });
    expect(vitest.status).toBe(1);
    expect(
      summary({
        status: vitest.status,
        bundleStatus: bundles.status,
        report: vitest.report,
        tap: bundles.tap,
      }),
    ).toBe('2 passed, 2 failed\n');
  });

  it('counts a file whose afterAll hook fails while every test in it passed', () => {
    const vitest = vitestRun({
      'hook.test.mjs': `${passing}afterAll(() => { throw new Error('cleanup failed'); });\n`,
      'one.test.mjs': onePassOneFail,
    });
    expect(vitest.status).toBe(1);
    expect(summary({ status: vitest.status, bundleStatus: 0, report: vitest.report })).toBe(
      '2 passed, 2 failed\n',
    );
  });

  it('reads a green run as 0 failed, on one plain line', () => {
    const vitest = vitestRun({ 'ok.test.mjs': passing });
    const bundles = nodeTestRun({ 'bundles.test.mjs': greenBundles });
    expect([vitest.status, bundles.status]).toEqual([0, 0]);
    expect(summary({ status: 0, bundleStatus: 0, report: vitest.report, tap: bundles.tap })).toBe(
      '2 passed, 0 failed\n',
    );
  });

  it('counts a failed bundle test from its TAP summary', () => {
    const vitest = vitestRun({ 'ok.test.mjs': passing });
    const bundles = nodeTestRun({
      'bundles.test.mjs': `${greenBundles}test('fails on this Node', () => { throw new Error('no'); });\n`,
    });
    expect(bundles.status).toBe(1);
    expect(
      summary({ status: 0, bundleStatus: bundles.status, report: vitest.report, tap: bundles.tap }),
    ).toBe('2 passed, 1 failed\n');
  });

  it('prints the plain line, never a stack trace or NaN, for a report cut short or without counts', () => {
    const truncated = join(folderOf({}), 'vitest-report.json');
    writeFileSync(truncated, '{"numPassedTests": 12, "numFailedTes');
    expect(summary({ status: 0, bundleStatus: 0, report: truncated })).toBe('0 passed, 1 failed\n');
    const countless = join(folderOf({}), 'vitest-report.json');
    writeFileSync(countless, '{"testResults": "nonsense"}');
    expect(summary({ status: 1, bundleStatus: 0, report: countless })).toBe('0 passed, 1 failed\n');
    expect(summary({ status: 0, bundleStatus: 0, report: countless })).toBe('0 passed, 0 failed\n');
  });

  it('never reads 0 failed for a red run with no report (lint failed, no Node 20.10 binary)', () => {
    expect(summary({ status: 1, bundleStatus: 0 })).toBe('0 passed, 1 failed\n');
    expect(summary({ status: 1, bundleStatus: 1 })).toBe('0 passed, 2 failed\n');
  });
});

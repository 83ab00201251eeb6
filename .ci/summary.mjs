// The last line of .ci/run: `N passed, N failed` over vitest's JSON report and the built-bundle
// suite's TAP summary. STATUS and BUNDLE_STATUS are the two runs' exit codes; a red run never
// reads "0 failed". VITEST_REPORT and BUNDLE_TAP point elsewhere than .local/ (the tests do).
import { existsSync, readFileSync } from 'node:fs';

const status = Number(process.env.STATUS);
const bundleStatus = Number(process.env.BUNDLE_STATUS);
const reportPath = process.env.VITEST_REPORT || '.local/vitest-report.json';
const tapPath = process.env.BUNDLE_TAP || '.local/bundles-node-20.10.0.tap';

/** A count from a report, or 0 when it is missing or no number: the line never reads NaN. */
const countOf = (value) => (Number.isSafeInteger(value) && value >= 0 ? value : 0);

/** The vitest report, or undefined when it is cut short or not JSON (then it counts as a failure). */
function readReport() {
  try {
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    return report !== null && typeof report === 'object' ? report : undefined;
  } catch {
    return undefined;
  }
}

let passed = 0;
let failed = 0;
const report = existsSync(reportPath) ? readReport() : undefined;
if (existsSync(reportPath) && report === undefined) {
  // A report that cannot be read proves nothing passed: one failure, whatever the exit code said.
  failed += 1;
} else if (report !== undefined) {
  passed += countOf(report.numPassedTests);
  // A file that fails with no failed test of its own (it cannot load, a hook threw) fails no test
  // by name, whatever the other files do: it counts as one.
  const files = Array.isArray(report.testResults) ? report.testResults : [];
  const failedFilesWithoutFailedTest = files.filter(
    (file) =>
      file?.status === 'failed' &&
      !(Array.isArray(file.assertionResults) ? file.assertionResults : []).some(
        (assertion) => assertion?.status === 'failed',
      ),
  ).length;
  let vitestFailed = countOf(report.numFailedTests) + failedFilesWithoutFailedTest;
  // Red with nothing counted (lint or typecheck failed before vitest wrote a fresh report).
  if (status !== 0 && vitestFailed === 0) vitestFailed = 1;
  failed += vitestFailed;
} else if (status !== 0) failed += 1;

const tap = existsSync(tapPath) ? readFileSync(tapPath, 'utf8') : '';
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
passed += count('pass');
let bundleFailed = count('fail') + count('cancelled');
// No TAP summary (binary missing, crash before reporting) or a red exit with nothing counted.
if (bundleStatus !== 0 && bundleFailed === 0) bundleFailed = 1;
failed += bundleFailed;
console.log(`${passed} passed, ${failed} failed`);

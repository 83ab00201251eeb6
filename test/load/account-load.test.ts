import { describe, expect, it } from 'vitest';
import { runAccountLoad } from '../../bench/account-load';

// The bench runs this with 50 callers for 30 s and reports latencies; here only counts are
// asserted, never timings, so a busy machine slows the test without failing it.
describe('the account under load (FC emulator, CAMS simulator at 5 calls/s, poller running)', () => {
  it('serves every caller with no throttling at CAMS, no 5xx, no 429 below the instance cap, and no CAMS call for watched flows', async () => {
    const report = await runAccountLoad({
      callers: 12,
      durationMs: 8000,
      watchedFlows: 100,
      watchedRead: 20,
      unwatchedRead: 20,
      maxInstances: 20,
      pollQps: 1,
      pollIntervalS: 3,
      pollRunS: 4,
    });
    expect(report.requests).toBeGreaterThan(report.callers);
    // Each entry lists the calls CAMS counted in the second up to a refusal (times, function, request).
    expect(report.limitControlWindows).toEqual([]);
    expect(report.answersAtLeast500).toBe(0);
    expect(report.statuses).toEqual({ 200: report.requests });
    expect(report.emulatorThrottled).toBe(0);
    expect(report.instancesStarted).toBeLessThanOrEqual(report.maxInstances);
    expect(report.httpCamsCallsForWatched).toBe(0);
    expect(report.watchedAnswersFromCams).toBe(0);
    // Both functions drew on the one budget while it held.
    expect(report.pollerCamsCalls).toBeGreaterThan(0);
    expect(report.httpCamsCalls).toBeGreaterThan(0);
    expect(report.bySource.watch?.count ?? 0).toBeGreaterThan(0);
  }, 180_000);
});

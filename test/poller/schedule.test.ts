import { describe, expect, it } from 'vitest';
import { DEFAULT_INTERVALS_S } from '../../shared/poller';
import { type FlowRecord, newFlowRecord } from '../../shared/poller/records';
import { dueOrder, failureBackoffMs, intervalMsFor, isDue } from '../../shared/poller/schedule';

const intervals = DEFAULT_INTERVALS_S;

function record(flowId: string, status: string | undefined, lastCheckedAt?: number): FlowRecord {
  return { ...newFlowRecord(flowId, undefined), status, lastCheckedAt };
}

describe('schedule', () => {
  it('checks BLOCKED/THROTTLED most often, DEPRECATED rarely, unknown statuses like *', () => {
    expect(intervalMsFor('THROTTLED', intervals)).toBe(30_000);
    expect(intervalMsFor('BLOCKED', intervals)).toBe(30_000);
    expect(intervalMsFor('PUBLISHED', intervals)).toBeGreaterThan(30_000);
    expect(intervalMsFor('DEPRECATED', intervals)).toBe(3_600_000);
    expect(intervalMsFor('SOMETHING_NEW', intervals)).toBe((intervals['*'] ?? 0) * 1000);
    expect(intervalMsFor(undefined, intervals)).toBe((intervals['*'] ?? 0) * 1000);
  });

  it('puts never-checked flows first, then the most overdue relative to their interval', () => {
    const now = 1_000_000;
    const order = dueOrder(
      [
        { key: 'published-late', record: record('1', 'PUBLISHED', now - 90_000) },
        { key: 'throttled-late', record: record('2', 'THROTTLED', now - 60_000) },
        { key: 'new', record: record('3', undefined) },
        { key: 'deprecated-fresh', record: record('4', 'DEPRECATED', now - 60_000) },
      ],
      now,
      intervals,
    ).map((entry) => entry.key);
    expect(order).toEqual(['new', 'throttled-late', 'published-late']);
  });

  it('does not check a failing flow before its backoff ends', () => {
    const failing = { ...record('1', 'PUBLISHED', 0), failures: 3, retryAt: 500_000 };
    expect(isDue(failing, 499_999, intervals)).toBe(false);
    expect(isDue(failing, 500_000, intervals)).toBe(true);
  });

  it('backs failures off exponentially with jitter, capped', () => {
    expect(failureBackoffMs(1, () => 0)).toBe(2_500);
    expect(failureBackoffMs(1, () => 1)).toBe(5_000);
    expect(failureBackoffMs(3, () => 1)).toBe(20_000);
    expect(failureBackoffMs(30, () => 1)).toBe(15 * 60_000);
  });

  it('reaches every flow in bounded time when a run can check only a few', () => {
    // 40 flows, 10 THROTTLED; 4 checks a minute is far below what all intervals ask for.
    const now = { value: 0 };
    const records = Array.from({ length: 40 }, (_, index) => ({
      key: String(index),
      record: record(String(index), index < 10 ? 'THROTTLED' : 'PUBLISHED', 0),
    }));
    const lastSeen = new Map<string, number>();
    const checks = new Map<string, number>();
    let worstGap = 0;
    for (let minute = 1; minute <= 120; minute += 1) {
      now.value = minute * 60_000;
      for (const entry of dueOrder(records, now.value, intervals).slice(0, 4)) {
        worstGap = Math.max(worstGap, now.value - (lastSeen.get(entry.key) ?? 0));
        lastSeen.set(entry.key, now.value);
        checks.set(entry.key, (checks.get(entry.key) ?? 0) + 1);
        entry.record.lastCheckedAt = now.value;
      }
    }
    expect(lastSeen.size).toBe(40);
    expect(worstGap).toBeLessThanOrEqual(20 * 60_000);
    // THROTTLED (30 s) flows are checked about twice as often as PUBLISHED (60 s) ones.
    expect(checks.get('0') ?? 0).toBeGreaterThan(1.5 * (checks.get('39') ?? 0));
  });
});

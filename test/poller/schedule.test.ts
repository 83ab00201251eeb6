import { describe, expect, it } from 'vitest';
import { CamsError } from '../../shared/cams';
import { DEFAULT_INTERVALS_S } from '../../shared/poller';
import { isAccountCondition } from '../../shared/poller/account-outage';
import { type FlowRecord, newFlowRecord } from '../../shared/poller/records';
import {
  accountFailureBackoffMs,
  dueOrder,
  failureBackoffMs,
  intervalMsFor,
  isDue,
  isWatchedClosely,
  pickNext,
} from '../../shared/poller/schedule';

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

  it('caps the backoff of a failure of CAMS or the account at the interval of the flow', () => {
    expect(accountFailureBackoffMs(30, 'BLOCKED', intervals, () => 1)).toBe(30_000);
    expect(accountFailureBackoffMs(30, 'DEPRECATED', intervals, () => 1)).toBe(15 * 60_000);
    expect(accountFailureBackoffMs(1, 'PUBLISHED', intervals, () => 1)).toBe(5_000);
  });

  it('checks never-checked flows first, sharing picks half and half with overdue closely watched flows only', () => {
    const now = 10_000_000;
    const due = dueOrder(
      [
        ...Array.from({ length: 8 }, (_, index) => ({
          key: `new-${index}`,
          record: record(String(index), undefined),
        })),
        ...Array.from({ length: 8 }, (_, index) => ({
          key: `blocked-${index}`,
          record: record(String(100 + index), 'BLOCKED', now - 31_000 - index),
        })),
        ...Array.from({ length: 8 }, (_, index) => ({
          key: `published-${index}`,
          record: record(String(200 + index), 'PUBLISHED', now - 600_000 - index),
        })),
      ],
      now,
      intervals,
    );
    const contested = { total: 0, firstChecks: 0 };
    const picks: string[] = [];
    const left = [...due];
    for (let pick = 0; pick < 20; pick += 1) {
      const next = pickNext(left, contested, intervals);
      if (!next) break;
      picks.push(next.key.split('-')[0] ?? '');
      left.splice(left.indexOf(next), 1);
    }
    // The PUBLISHED flows are 10 intervals late, yet wait behind the first checks: a first check
    // is the only way to see a flow at all. BLOCKED flows keep half the picks meanwhile; once the
    // first checks are done, the most overdue (relative to their interval) go first again.
    expect(picks).toEqual([
      ...Array.from({ length: 7 }, () => ['new', 'blocked']).flat(),
      'new',
      ...Array.from({ length: 5 }, () => 'published'),
    ]);
    expect(isWatchedClosely('BLOCKED', intervals)).toBe(true);
    expect(isWatchedClosely('PUBLISHED', intervals)).toBe(false);
    expect(isWatchedClosely(undefined, intervals)).toBe(false);
  });

  it.each([
    [
      'a 5xx',
      new CamsError({ action: 'GetFlow', code: 'HttpError', httpStatus: 503, retryable: true }),
      true,
    ],
    ['throttling', new CamsError({ action: 'GetFlow', code: 'System.LimitControl', retryable: true }), true],
    ['a timeout', new CamsError({ action: 'GetFlow', code: 'Timeout', retryable: true }), true],
    [
      'a permission error',
      new CamsError({ action: 'GetFlow', code: 'Ram.PermissionDeny', retryable: false }),
      true,
    ],
    [
      'an expired token',
      new CamsError({ action: 'GetFlow', code: 'InvalidSecurityToken.Expired', retryable: false }),
      true,
    ],
    [
      'a malformed answer',
      new CamsError({ action: 'GetFlow', code: 'InvalidResponse', retryable: false }),
      false,
    ],
    [
      'a 4xx for this flow',
      new CamsError({ action: 'GetFlow', code: 'InvalidParameter', retryable: false }),
      false,
    ],
    ['a store failure', new Error('disk full'), false],
  ])('takes %s for a condition of the account: %s', (_name, error, expected) => {
    expect(isAccountCondition(error)).toBe(expected);
  });
});

import type { FlowRecord } from './records';

const MAX_FAILURE_BACKOFF_MS = 15 * 60 * 1000;
const FAILURE_BACKOFF_BASE_MS = 5000;
/**
 * A check or backoff stamped further ahead than this was not written by a clock we trust (a
 * host with a wrong date, a hand edit): honouring it would leave the flow unchecked until then,
 * so it counts as absent. Less than this is clock skew between instances, and is kept.
 */
const MAX_FUTURE_STAMP_MS = 24 * 3600_000;

export function believable(stamp: number | undefined, now: number): number | undefined {
  return stamp !== undefined && stamp - now <= MAX_FUTURE_STAMP_MS ? stamp : undefined;
}

export function intervalMsFor(
  status: string | undefined,
  intervalsS: Readonly<Record<string, number>>,
): number {
  // Statuses are CAMS's data: `constructor` or `__proto__` must not find Object.prototype's.
  const own = (name: string) => (Object.hasOwn(intervalsS, name) ? intervalsS[name] : undefined);
  const seconds = (status !== undefined ? own(status) : undefined) ?? own('*') ?? 60;
  return Number.isFinite(seconds) ? seconds * 1000 : 60_000;
}

/**
 * How overdue a flow is, as a multiple of its status's interval: 1 means exactly due. Never
 * checked flows come first. Ranking by this ratio rather than by wall-clock lateness is what
 * checks THROTTLED/BLOCKED flows more often while still reaching every flow in bounded time.
 */
export function overdueRatio(
  record: FlowRecord,
  now: number,
  intervalsS: Readonly<Record<string, number>>,
): number {
  const retryAt = believable(record.retryAt, now);
  if (retryAt !== undefined && now < retryAt) return 0;
  const lastCheckedAt = believable(record.lastCheckedAt, now);
  if (lastCheckedAt === undefined) return Number.POSITIVE_INFINITY;
  const interval = Math.max(1, intervalMsFor(record.status, intervalsS));
  return (now - lastCheckedAt) / interval;
}

export function isDue(
  record: FlowRecord,
  now: number,
  intervalsS: Readonly<Record<string, number>>,
): boolean {
  return overdueRatio(record, now, intervalsS) >= 1;
}

/** Flows due now, most overdue first (ties: oldest check first, then key for determinism). */
export function dueOrder(
  records: ReadonlyArray<{ key: string; record: FlowRecord }>,
  now: number,
  intervalsS: Readonly<Record<string, number>>,
): Array<{ key: string; record: FlowRecord }> {
  return records
    .map((entry) => ({ entry, ratio: overdueRatio(entry.record, now, intervalsS) }))
    .filter(({ ratio }) => ratio >= 1)
    .sort(
      (a, b) =>
        b.ratio - a.ratio ||
        (a.entry.record.lastCheckedAt ?? 0) - (b.entry.record.lastCheckedAt ?? 0) ||
        (a.entry.key < b.entry.key ? -1 : 1),
    )
    .map(({ entry }) => entry);
}

export function failureBackoffMs(failures: number, random: () => number): number {
  const ceiling = Math.min(MAX_FAILURE_BACKOFF_MS, FAILURE_BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The backoff after a check failed for a reason of CAMS or the account (see account-outage.ts):
 * the flow's own backoff, but never past its status's interval, so once CAMS is back every flow
 * is checked again about on its usual schedule. What keeps an outage from costing CAMS a call per
 * flow per interval is the run's outage gate, not this.
 */
export function accountFailureBackoffMs(
  failures: number,
  status: string | undefined,
  intervalsS: Readonly<Record<string, number>>,
  random: () => number,
): number {
  return Math.min(failureBackoffMs(failures, random), Math.max(1, intervalMsFor(status, intervalsS)));
}

/**
 * Whether the operator asked for a status to be checked more often than the default (`*`) —
 * THROTTLED and BLOCKED with the default POLL_INTERVALS: flows already in trouble, whose next
 * change (blocked, or back to normal) is the one users wait for.
 */
export function isWatchedClosely(
  status: string | undefined,
  intervalsS: Readonly<Record<string, number>>,
): boolean {
  return status !== undefined && intervalMsFor(status, intervalsS) < intervalMsFor(undefined, intervalsS);
}

/**
 * The share of check starts that first checks take while a closely watched flow (see
 * isWatchedClosely) is overdue too. A first check establishes a flow's baseline: until then any
 * change of that flow passes unseen (its first check reads the new status and can announce
 * nothing), so first checks go before every other overdue flow, as the most overdue of all. But a
 * WATCH_FLOWS grown by a thousand flows, or a discovery find, must not hold an overdue BLOCKED flow
 * back for minutes either: closely watched flows keep half the picks while first checks wait.
 */
export const FIRST_CHECK_SHARE = 0.5;

/** Picks a run has made while both a closely watched overdue flow and a first check were waiting. */
export interface ContestedPicks {
  total: number;
  firstChecks: number;
}

/**
 * The flow to check next among `due` (in dueOrder's order, first checks first): a first check,
 * except that closely watched overdue flows get 1 − FIRST_CHECK_SHARE of the picks when both
 * kinds wait. Counts the pick.
 */
export function pickNext<T extends { record: FlowRecord }>(
  due: readonly T[],
  contested: ContestedPicks,
  intervalsS: Readonly<Record<string, number>>,
): T | undefined {
  const first = due.find((entry) => entry.record.lastCheckedAt === undefined);
  const close = due.find(
    (entry) => entry.record.lastCheckedAt !== undefined && isWatchedClosely(entry.record.status, intervalsS),
  );
  if (!first || !close) return due[0];
  contested.total += 1;
  if (contested.firstChecks < FIRST_CHECK_SHARE * contested.total) {
    contested.firstChecks += 1;
    return first;
  }
  return close;
}

/** When a flow next becomes due: its interval after the last check, and not before its backoff ends. */
export function nextDueAt(record: FlowRecord, intervalsS: Readonly<Record<string, number>>): number {
  const byInterval =
    record.lastCheckedAt === undefined
      ? Number.NEGATIVE_INFINITY
      : record.lastCheckedAt + Math.max(1, intervalMsFor(record.status, intervalsS));
  return Math.max(byInterval, record.retryAt ?? Number.NEGATIVE_INFINITY);
}

import {
  type CallBudget,
  type CallSlot,
  type LimiterSlot,
  RateLimiter,
  RateLimitWaitTooLongError,
} from '../cams';
import { type Clock, within } from '../clock';
import type { Counter, StateStore } from '../state';
import { BudgetSlot } from './budget-slot';

/**
 * Who draws from the account's budget: `poll` is capped at its own share (POLL_QPS) on top of
 * the account limit; `http` may use whatever the account limit leaves — all of it while the
 * poller is idle, at most CAMS_ACCOUNT_QPS − POLL_QPS while the poller wants slots.
 */
export type BudgetScope = 'poll' | 'http';

export interface AccountBudgetOptions {
  /** CAMS calls per rolling second for the whole account (CAMS allows 5). */
  readonly accountQps: number;
  readonly scope: BudgetScope;
  /** The poller's share (POLL_QPS): the poller's cap; the HTTP function's share is the rest. */
  readonly pollQps: number;
  /**
   * How many instances of this scope may run at once: 1 for the poller (reservedConcurrency 1),
   * HTTP_MAX_INSTANCES for the HTTP function. While the store cannot be reached, each instance
   * allows itself its scope's share divided by this, so all of them together stay within the
   * account's limit.
   */
  readonly instances: number;
  readonly clock: Clock;
  /** Jitter source in [0, 1). */
  readonly random?: (() => number) | undefined;
  readonly log?: ((entry: { level: 'warn'; msg: string; error: string }) => void) | undefined;
}

/**
 * Calls per second one instance allows itself while the store cannot be reached: its scope's
 * share of the account (the poller's POLL_QPS, the HTTP function the rest) over the instances
 * that may share it. May be below 1: one call every few seconds.
 */
export function fallbackQpsOf(
  options: Pick<AccountBudgetOptions, 'accountQps' | 'scope' | 'pollQps' | 'instances'>,
): number {
  const pollShare = Math.min(options.pollQps, options.accountQps);
  const share = options.scope === 'poll' ? pollShare : options.accountQps - pollShare;
  return share / options.instances;
}

/**
 * A local limiter for `qps` calls per rolling second: whole calls per second when there is at
 * least one (rounded down, never above the share), else one call per 1/qps seconds.
 */
function localLimiter(qps: number, clock: Clock): RateLimiter {
  return qps >= 1
    ? new RateLimiter({ limit: Math.floor(qps), clock })
    : new RateLimiter({ limit: 1, windowMs: Math.ceil(1000 / qps), clock });
}

export interface BudgetBinding {
  /**
   * Runs before every try for a slot, waits included; may throw to give up waiting (the HTTP
   * function does when another instance has meanwhile stored the answer it was about to read).
   */
  readonly beforeEachTry?: (() => Promise<void>) | undefined;
}

export const BUCKET_MS = 100;
const WINDOW_MS = 1000;
/** Clocks of two instances may disagree by this much. */
export const CLOCK_SKEW_MS = 100;
/**
 * A slot is stamped when its bucket is incremented and used when the window has been read; a
 * decision slower than this (a slow store) is given back and tried again, so the stamp stays
 * within this of the real start.
 */
export const DECISION_MS = 100;
/**
 * Buckets either side of one's own that a rolling second can reach: two calls whose real starts
 * are within a second have stamps within WINDOW + skew + decision time of each other.
 */
const SPAN_BUCKETS = Math.ceil((WINDOW_MS + CLOCK_SKEW_MS + DECISION_MS) / BUCKET_MS);
/**
 * How far back an HTTP try looks for the poller's marks: a poller refused by its own cap waits up
 * to the reach plus a bucket and its jitter before trying again, and is still busy meanwhile.
 */
const DEMAND_SPAN_BUCKETS = 2 * SPAN_BUCKETS + 2;
/**
 * A call answered later than this after its stamp is counted again where its answer came. Strictly
 * the reach covers an arrival only up to the decision time after the stamp, but a client cannot
 * see when CAMS received a call, only when the answer came, and most answers come more than 100 ms
 * after the stamp (store decision plus round trip): counting those twice cost about 30 % of the
 * account's calls (CAMS answering in 150 ms: 2.95 instead of 4.15 calls/s). So only answers later
 * than a window, which no normal call takes, are counted again. A call whose connection is set
 * up late (a cold one) is counted again when it is up (BudgetSlot.connected); the trade-off is
 * that a call whose written request takes more than the reach's margin (~200 ms) to arrive, and
 * is answered within 1 s, can still meet other calls in one second of CAMS's count. CAMS then
 * answers System.LimitControl, which is retryable and retried with backoff.
 */
const ARRIVAL_ALLOWANCE_MS = WINDOW_MS;
/** Past this a slot never settled stops counting its call again (see BudgetSlot). */
const MAX_IN_FLIGHT_MS = 15 * 60 * 1000;
/**
 * How long a handler waits for the counts still pending when it is about to answer: a store that
 * answers in time decides a slot within this, so a count lands within it too. A call's count
 * again is waited for longer, until the decisions that need it are made (see `settled`).
 */
export const MAX_COUNT_WAIT_MS = DECISION_MS;
/** A store this slow several times running cannot hold the guarantee: treated as unreachable. */
const MAX_SLOW_DECISIONS = 10;

class SlowStoreError extends Error {
  constructor(decisionMs: number) {
    super(
      `the state store took ${decisionMs} ms to grant a slot, more than ${DECISION_MS} ms, ${MAX_SLOW_DECISIONS} times running`,
    );
  }
}

/**
 * Counters per 100 ms bucket: every call (`all`), each function's own calls (`poll`, `http`),
 * and `poll-demand`, every try of the poller's whether granted or not.
 */
type CounterName = 'all' | BudgetScope | 'poll-demand';

export function bucketKey(scope: CounterName, bucket: number): string {
  return `budget/${scope}/${String(bucket).padStart(13, '0')}`;
}

/**
 * Where a slow call is counted again, in the bucket its answer came in: sorted after that
 * bucket's own `all` key and before the next one's, so every `all` window reaching the bucket
 * sums it, but apart from the bucket's own key so it never shifts the tickets handed out there
 * (a try counts its own bucket only up to its ticket; a late count must be seen by every try
 * that reads after it).
 */
export function lateKey(bucket: number): string {
  return `${bucketKey('all', bucket)}/late`;
}

interface Verdict {
  readonly isAdmitted: boolean;
  readonly retryAt: number;
  /** The try's increments stand: it admitted the call, or the call was sent without waiting for it. */
  readonly isCounted: boolean;
}

/**
 * The account-wide CAMS budget, shared by every instance of both functions through atomic
 * counters in the state store: each attempt adds one to its 100 ms bucket (per scope), then
 * sums the buckets a rolling second can reach. Its own bucket counts only up to its own ticket
 * (the value its increment returned), so of many instances racing into one bucket the earliest
 * win instead of all refusing each other. Why this holds: among any calls started within one
 * second, the one whose increment came last saw every other's increment, so it alone would have
 * been refused had they been too many. A refused try gives its slot back.
 *
 * The poller's share is protected: its every try also leaves a mark that is never taken back, and
 * an HTTP try that finds such a mark in reach keeps the HTTP function's own calls within
 * CAMS_ACCOUNT_QPS − POLL_QPS, so read-token holders (no-cache, many unwatched flows) cannot hold
 * every slot while status checks wait.
 *
 * CAMS counts a call when it arrives, not when it was stamped: a call still in flight a window
 * after its stamp is counted again every window, and once more where its answer came (see
 * BudgetSlot and ARRIVAL_ALLOWANCE_MS).
 *
 * A store that fails (or is too slow) puts this instance on its local share: each call then
 * waits for the local limit and gives the store one short try before it is sent (see #probe), so
 * the first call the store decides in time reads the window and brings the instance back.
 *
 * One per warm instance (it carries the fallback limiter and the once-per-cold-start log);
 * `bind` ties it to the invocation's store.
 */
export class AccountBudget {
  readonly #options: AccountBudgetOptions;
  readonly #random: () => number;
  readonly #fallback: RateLimiter;
  readonly #fallbackQps: number;
  #hasLoggedFallback = false;
  /**
   * Counts started without being awaited (late, in-flight and fallback counts, take-backs) and not
   * yet over, each with the time by which it must have landed (-Infinity: no such time).
   */
  readonly #pendingCounts = new Map<Promise<unknown>, number>();
  /** The store failed (or was too slow) at this instance's last try: calls wait for the local limit first. */
  #isOnFallback = false;
  #slowDecisions = 0;

  constructor(options: AccountBudgetOptions) {
    if (!Number.isInteger(options.accountQps) || options.accountQps < 1) {
      throw new RangeError(
        `the account budget must be a positive whole number of calls, got ${options.accountQps}`,
      );
    }
    if (!Number.isInteger(options.instances) || options.instances < 1) {
      throw new RangeError(`instances must be a positive whole number, got ${options.instances}`);
    }
    if (!(options.pollQps > 0))
      throw new RangeError(`the poller's share must be positive, got ${options.pollQps}`);
    this.#fallbackQps = fallbackQpsOf(options);
    if (!(this.#fallbackQps > 0)) {
      throw new RangeError(
        `POLL_QPS (${options.pollQps}) leaves the HTTP function nothing of the account's ${options.accountQps} calls/s`,
      );
    }
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#fallback = localLimiter(this.#fallbackQps, options.clock);
  }

  /** The calls per second this instance allows itself while the store cannot decide (fallbackQpsOf). */
  get fallbackQps(): number {
    return this.#fallbackQps;
  }

  /**
   * Waits for the counts this instance started without awaiting them. FC freezes an instance once
   * it has answered, so a count still pending then lands at the next invocation or never. A call's
   * count again (a cold connection, a late answer, a call still in flight) is waited for until the
   * moment other instances' decisions stop seeing the call's previous count: lost, it would let
   * them grant a slot in the second CAMS counts the call in. So at most a reach (1.2 s) after that
   * count, and only while the store is slower to take it than the call took to answer; a store
   * that answers in time costs nothing. Every other count (a fallback call's, a refused try's
   * take-back, which only ever over-counts) is waited for at most `maxWaitMs`: the store may be
   * down, and the caller must not pay its timeout. Never past `notAfter` (epoch ms): the caller's
   * own deadline to answer (the HTTP function's typed 504 must come before FC's timeout cuts it
   * off, and a count not landed by then is lost either way).
   */
  async settled(options: { notAfter?: number | undefined; maxWaitMs?: number } = {}): Promise<void> {
    if (this.#pendingCounts.size === 0) return;
    const { clock } = this.#options;
    const now = clock.now();
    const maxWaitMs = options.maxWaitMs ?? MAX_COUNT_WAIT_MS;
    const ceiling = Math.max(0, (options.notAfter ?? Number.POSITIVE_INFINITY) - now);
    await Promise.allSettled(
      [...this.#pendingCounts].map(([count, mustLandBy]) =>
        within(clock, Math.min(ceiling, Math.max(maxWaitMs, mustLandBy - now)), count),
      ),
    );
  }

  /** Not awaited by the call: tracked, so `settled` can wait for it before the answer. */
  #pending(count: Promise<unknown>, mustLandBy = Number.NEGATIVE_INFINITY): void {
    this.#pendingCounts.set(count, mustLandBy);
    void count.finally(() => this.#pendingCounts.delete(count));
  }

  bind(store: StateStore, binding: BudgetBinding = {}): CallBudget {
    return {
      acquire: (options = {}) => this.#acquire(store, binding, options),
    };
  }

  async #acquire(
    store: StateStore,
    binding: BudgetBinding,
    options: { signal?: AbortSignal | undefined; latestStartAt?: number | undefined },
  ): Promise<CallSlot> {
    const { clock } = this.#options;
    for (;;) {
      options.signal?.throwIfAborted();
      await binding.beforeEachTry?.();
      let stampedAt = clock.now();
      let verdict: Verdict | undefined;
      if (!this.#isOnFallback) {
        try {
          verdict = await this.#tryTake(store, stampedAt);
        } catch (error) {
          this.#storeFailed(error);
        }
      }
      if (verdict === undefined) {
        const local = await this.#fallback.acquire(options);
        stampedAt = clock.now();
        verdict = await this.#probe(store, stampedAt);
        if (verdict === undefined) return this.#slot(store, clock.now(), local);
        // The store decided in time: this instance is back on it, from this very call.
        this.#isOnFallback = false;
        if (verdict.isAdmitted) return this.#slot(store, stampedAt, local);
        local.release();
      } else if (verdict.isAdmitted) {
        return this.#slot(store, stampedAt);
      }
      const startAt = verdict.retryAt + Math.floor(this.#random() * BUCKET_MS);
      if (options.latestStartAt !== undefined && startAt > options.latestStartAt) {
        throw new RateLimitWaitTooLongError(startAt);
      }
      await clock.sleep(Math.max(1, startAt - clock.now()), options.signal);
    }
  }

  /** A granted call's slot: counts the call again if its answer comes too late after its stamp. */
  #slot(store: StateStore, stampedAt: number, local?: LimiterSlot): BudgetSlot {
    return new BudgetSlot({
      stampedAt,
      clock: this.#options.clock,
      allowanceMs: ARRIVAL_ALLOWANCE_MS,
      // A call stamped now and arriving within the decision time is inside the reach's margin;
      // a connection set up later than that sends the request past it.
      connectAllowanceMs: DECISION_MS,
      // A count reaches decisions up to the reach (1.2 s) after it: counting again every window
      // less the decision time leaves each count 300 ms to land before the one before leaves
      // the reach, so the in-flight call stays in every window read.
      recountEveryMs: WINDOW_MS - DECISION_MS,
      // No call is in flight longer than its function may run (FC's longest timeout is 24 h for
      // asynchronous invocations; ours are 10–60 s): a slot someone forgot ends its counts then.
      maxInFlightMs: MAX_IN_FLIGHT_MS,
      countAgain: (at, previousCountAt) =>
        this.#pending(
          countBestEffort(store, [lateKey(Math.floor(at / BUCKET_MS))]),
          lastSeenAfter(previousCountAt),
        ),
      local,
    });
  }

  /**
   * A fallback call, its local grant in hand, gives the store one try before it is sent: whether
   * the store failed only this instance once or has come back, a decision made within the
   * decision time reads the window like any other (so this call cannot overlap the calls others
   * made meanwhile) and its verdict stands. Without one in time the local grant stands, and the
   * call is counted in the store once the try is over, unless the try's increments landed: a try
   * that finishes after the call was sent keeps them (granted or not) as the call's count instead
   * of taking them back, so no moment passes in which others cannot see the call. So instances
   * that can reach the store see it: the store may have failed
   * only this instance, and then the others would otherwise find the poller idle and take every
   * slot while it calls at its share. Bounded, because the store may hang until its own timeout.
   */
  async #probe(store: StateStore, stampedAt: number): Promise<Verdict | undefined> {
    let isSent = false;
    const decision = this.#tryTake(store, stampedAt, () => isSent).catch(() => undefined);
    const verdict = await within(this.#options.clock, DECISION_MS, decision);
    if (verdict !== undefined) return verdict;
    isSent = true;
    // Counted where the call starts, now, unless the try's own increments stand for it.
    const bucket = Math.floor(this.#options.clock.now() / BUCKET_MS);
    this.#pending(
      decision.then(async (late) => {
        if (late?.isCounted) return;
        const { scope } = this.#options;
        const names: CounterName[] = scope === 'poll' ? ['all', 'poll', 'poll-demand'] : ['all', 'http'];
        await countBestEffort(
          store,
          names.map((name) => bucketKey(name, bucket)),
        );
      }),
    );
    return undefined;
  }

  #storeFailed(error: unknown): void {
    this.#isOnFallback = true;
    if (this.#hasLoggedFallback) return;
    this.#hasLoggedFallback = true;
    this.#options.log?.({
      level: 'warn',
      msg: `the state store cannot be reached for the shared CAMS budget: this instance limits itself to ${formatQps(this.#fallbackQps)} calls/s (its share over ${this.#options.instances} instance(s)) until it can (logged once per instance)`,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  /** `isSent`: whether the call was sent meanwhile without this try's verdict (see #probe). */
  async #tryTake(store: StateStore, stampedAt: number, isSent = () => false): Promise<Verdict> {
    const { scope, accountQps, pollQps, clock } = this.#options;
    const bucket = Math.floor(stampedAt / BUCKET_MS);
    const pollShare = Math.min(pollQps, accountQps);
    const limits: Array<[CounterName, number]> = [['all', accountQps]];
    if (scope === 'poll') limits.push(['poll', Math.max(1, Math.floor(pollShare))]);
    else limits.push(['http', Math.max(1, Math.floor(accountQps - pollShare))]);
    const reach = (name: CounterName) =>
      store.counters(bucketKey(name, bucket - SPAN_BUCKETS), bucketKey(name, bucket + SPAN_BUCKETS + 1));
    // Increments first, then the reads: a window read must see this try's own increment.
    const tickets = await Promise.all([
      ...limits.map(([name]) => store.increment(bucketKey(name, bucket), 1)),
      // The poller marks every try, granted or not, and never takes the mark back: a poller
      // waiting for room is as busy as one calling, so HTTP callers cannot starve it.
      ...(scope === 'poll' ? [store.increment(bucketKey('poll-demand', bucket), 1)] : []),
    ]);
    const [windows, pollDemand] = await Promise.all([
      Promise.all(limits.map(([name]) => reach(name))),
      scope === 'http'
        ? store.counters(
            bucketKey('poll-demand', bucket - DEMAND_SPAN_BUCKETS),
            bucketKey('poll-demand', bucket + SPAN_BUCKETS + 1),
          )
        : Promise.resolve([]),
    ]);
    // The HTTP function keeps to what POLL_QPS leaves only while the poller wants slots.
    const isPollerBusy = pollDemand.some((counter) => counter.value > 0);
    let retryAt = stampedAt + BUCKET_MS;
    const decisionMs = clock.now() - stampedAt;
    this.#slowDecisions = decisionMs > DECISION_MS ? this.#slowDecisions + 1 : 0;
    let isAdmitted = decisionMs <= DECISION_MS;
    limits.forEach(([name, limit], index) => {
      if (name === 'http' && !isPollerBusy) return;
      const window = windows[index] ?? [];
      const others = window
        .filter((counter) => counter.key !== bucketKey(name, bucket))
        .reduce((sum, counter) => sum + Math.max(0, counter.value), 0);
      if (others + (tickets[index] ?? 0) <= limit) return;
      isAdmitted = false;
      retryAt = Math.max(retryAt, this.#whenRoomMayOpen(window, name, bucket));
    });
    // A call sent meanwhile is counted by these increments: taking them back would hide it.
    const isCounted = isAdmitted || isSent();
    if (!isCounted) {
      // Not awaited: the verdict stands as soon as it is known, so a fallback call's probe sees a
      // refusal made in time instead of sending the call while the take-back is on its way. Until
      // it lands the try only counts one call too many (the safe side); tracked for settled().
      this.#pending(
        Promise.all(limits.map(([name]) => store.increment(bucketKey(name, bucket), -1))).catch(
          () => undefined,
        ),
      );
    }
    // A verdict nobody waits for any more reports nothing (its increments were kept above).
    if (this.#slowDecisions >= MAX_SLOW_DECISIONS && !isSent()) {
      this.#slowDecisions = 0;
      throw new SlowStoreError(decisionMs);
    }
    return { isAdmitted, retryAt, isCounted };
  }

  /** When the oldest busy bucket in reach leaves the reach of a try made then. */
  #whenRoomMayOpen(window: readonly Counter[], name: CounterName, bucket: number): number {
    const prefix = bucketKey(name, 0).slice(0, -13);
    const oldest = window
      .filter((counter) => counter.value > 0)
      // A late count's key carries a suffix after its bucket's.
      .map((counter) => Number(counter.key.slice(prefix.length, prefix.length + 13)))
      .filter((candidate) => Number.isFinite(candidate) && candidate <= bucket)
      .sort((left, right) => left - right)[0];
    return oldest === undefined ? (bucket + 1) * BUCKET_MS : (oldest + SPAN_BUCKETS + 1) * BUCKET_MS;
  }
}

/**
 * The last moment every instance's decisions still see a count made at `countedAt`: decisions
 * stamped in the bucket a reach past its own no longer do, and a clock ahead by the skew makes
 * that bucket come this much sooner.
 */
function lastSeenAfter(countedAt: number): number {
  return (Math.floor(countedAt / BUCKET_MS) + SPAN_BUCKETS + 1) * BUCKET_MS - CLOCK_SKEW_MS;
}

/**
 * Never failing, and not awaited by the call: the store may be down, and the call must not wait on
 * it or fail with it. Inside `then`, so a store that throws instead of rejecting is swallowed too.
 */
function countBestEffort(store: StateStore, keys: readonly string[]): Promise<unknown> {
  return Promise.all(
    keys.map((key) =>
      Promise.resolve()
        .then(() => store.increment(key, 1))
        .catch(() => {}),
    ),
  );
}

/** Calls per second as logs show them: at most three decimals (0.1, 0.333). */
export function formatQps(qps: number): string {
  return String(Math.round(qps * 1000) / 1000);
}

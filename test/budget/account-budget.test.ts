import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTablestoreServer, type TablestoreServer } from '../../local/tablestore-server';
import { AccountBudget, BUCKET_MS, type BudgetScope, bucketKey } from '../../shared/budget';
import type { Clock } from '../../shared/clock';
import { aroundStore, createStateStore, type StateStore } from '../../shared/state';
import { VirtualClock } from '../support/virtual-clock';
import { busiestWindow, tracked } from './support';

const ROLE = {
  accessKeyId: 'STS.BudgetKey',
  accessKeySecret: 'budget-secret',
  securityToken: 'budget-token',
};

/** The store's methods as own properties, so `{ ...store, increment }` keeps the others. */
const withOwnMethods = (store: StateStore): StateStore => aroundStore(store, (call) => call());

/** An instance's clock, off the true one by a fixed skew. */
const skewed = (clock: VirtualClock, skewMs: number): Clock => ({
  now: () => clock.now() + skewMs,
  sleep: (ms, signal) => clock.sleep(ms, signal),
});

interface Caller {
  readonly scope: BudgetScope;
  readonly skewMs: number;
  /** What this instance's store does differently (a fault only it meets), on the true clock. */
  readonly storeWith?: ((store: StateStore, clock: Clock) => StateStore) | undefined;
  readonly startAfterMs?: number | undefined;
}

const HAMMER_START = Date.UTC(2026, 10, 25, 12, 0, 0);

/**
 * A store that fails one try, the first made `afterMs` into the run or later right after a granted
 * one: a try that follows another at the same instant (a refused try sleeps first).
 */
function failsRightAfterAGrant(afterMs: number, failed: { count: number }) {
  return (store: StateStore, clock: Clock): StateStore => {
    const own = withOwnMethods(store);
    let lastReadAt = Number.NEGATIVE_INFINITY;
    return {
      ...own,
      counters: (startKey, endKey) => {
        lastReadAt = clock.now();
        return own.counters(startKey, endKey);
      },
      increment: async (key, by) => {
        const isAfterGrant = by > 0 && clock.now() === lastReadAt;
        if (failed.count === 0 && isAfterGrant && clock.now() >= HAMMER_START + afterMs) {
          failed.count += 1;
          throw new Error('OTSServerUnavailable');
        }
        return own.increment(key, by);
      },
    };
  };
}

/** Each caller is one instance hammering the budget until `durationMs` of virtual time has passed. */
async function hammer(storeOf: () => Promise<StateStore>, callers: readonly Caller[], durationMs: number) {
  const pending = { count: 0 };
  const clock = new VirtualClock(HAMMER_START, { isBusy: () => pending.count > 0 });
  const startedAt = clock.now();
  const starts: Record<BudgetScope, number[]> = { poll: [], http: [] };
  await Promise.all(
    callers.map(async (caller, index) => {
      const budget = new AccountBudget({
        accountQps: 5,
        scope: caller.scope,
        pollQps: 2,
        instances: caller.scope === 'poll' ? 1 : 10,
        clock: skewed(clock, caller.skewMs),
        random: () => ((index * 7919) % 100) / 100,
      });
      const store = await storeOf();
      const slot = budget.bind(tracked(caller.storeWith?.(store, clock) ?? store, pending));
      if (caller.startAfterMs !== undefined) await clock.sleep(caller.startAfterMs);
      while (clock.now() - startedAt < durationMs) {
        (await slot.acquire()).settle();
        starts[caller.scope].push(clock.now());
      }
    }),
  );
  return starts;
}

const callers: Caller[] = [
  { scope: 'poll', skewMs: 0 },
  { scope: 'poll', skewMs: 40 },
  { scope: 'http', skewMs: 100 },
  { scope: 'http', skewMs: 20 },
  { scope: 'http', skewMs: 60 },
  { scope: 'http', skewMs: 0 },
];

describe('account budget on the file store', () => {
  const open = () => createStateStore(`file:${mkdtempSync(join(tmpdir(), 'cfw-budget-'))}`);

  it('never lets more than 5 calls start in a rolling second across instances whose clocks disagree by up to 100 ms', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-budget-'));
    const starts = await hammer(() => createStateStore(`file:${directory}`), callers, 12_000);
    const all = [...starts.poll, ...starts.http];
    expect(busiestWindow(all)).toBeLessThanOrEqual(5);
    expect(busiestWindow(starts.poll)).toBeLessThanOrEqual(2);
    // Not starved: most of the account's 60 calls in 12 s are used, and the HTTP side gets the rest.
    expect(all.length).toBeGreaterThanOrEqual(40);
    expect(starts.http.length).toBeGreaterThanOrEqual(starts.poll.length);
  });

  it('keeps the poller its share while many HTTP instances want every slot, and HTTP within the rest', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-budget-'));
    const crowd: Caller[] = [
      { scope: 'poll', skewMs: 100 },
      ...Array.from({ length: 8 }, (_, index) => ({ scope: 'http' as const, skewMs: (index * 37) % 101 })),
    ];
    const starts = await hammer(() => createStateStore(`file:${directory}`), crowd, 12_000);
    expect(busiestWindow([...starts.poll, ...starts.http])).toBeLessThanOrEqual(5);
    // The poller's 2/s (about 2 per 1.2 s at saturation), not a ninth of the account.
    expect(starts.poll.length).toBeGreaterThanOrEqual(15);
    expect(busiestWindow(starts.http)).toBeLessThanOrEqual(3);
  });

  it('keeps the account limit while the poller meets a store failure once and the HTTP instances do not', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-budget-'));
    let isFirst = true;
    // The store fails the poller once: its local limit grants that call, the store decides the next.
    const failsOnce = (store: StateStore): StateStore => ({
      ...withOwnMethods(store),
      increment: async (key, delta) => {
        if (isFirst) {
          isFirst = false;
          throw new Error('OTSServerUnavailable');
        }
        return store.increment(key, delta);
      },
    });
    const mixed: Caller[] = [
      { scope: 'poll', skewMs: 0, storeWith: failsOnce },
      ...Array.from({ length: 6 }, (_, index) => ({
        scope: 'http' as const,
        skewMs: (index * 37) % 101,
        startAfterMs: 50,
      })),
    ];
    const starts = await hammer(() => createStateStore(`file:${directory}`), mixed, 9_000);
    expect(isFirst).toBe(false);
    expect(busiestWindow([...starts.poll, ...starts.http])).toBeLessThanOrEqual(5);
    expect(busiestWindow(starts.http)).toBeLessThanOrEqual(3);
    expect(busiestWindow(starts.poll)).toBeLessThanOrEqual(2);
    // The poller keeps its 2 per 1.2 s, the HTTP instances most of the rest.
    expect(starts.poll.length).toBeGreaterThanOrEqual(13);
    expect(starts.http.length).toBeGreaterThanOrEqual(18);
  });

  it('reads the window before granting again when the poller meets a store failure mid-run, so its fresh local limit adds no burst', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-budget-'));
    const failed = { count: 0 };
    // The poller has just used its 2 calls through the store when the store fails it once; its
    // local limiter knows nothing of them (nor of the HTTP calls).
    const mixed: Caller[] = [
      { scope: 'poll', skewMs: 0, storeWith: failsRightAfterAGrant(3000, failed) },
      ...Array.from({ length: 4 }, (_, index) => ({ scope: 'http' as const, skewMs: (index * 31) % 101 })),
    ];
    const starts = await hammer(() => createStateStore(`file:${directory}`), mixed, 8000);
    expect(failed.count).toBe(1);
    expect(busiestWindow(starts.poll)).toBeLessThanOrEqual(2);
    expect(busiestWindow([...starts.poll, ...starts.http])).toBeLessThanOrEqual(5);
    // Back on the store at once: its 2 per 1.2 s, not 2 per second on its own for the next 10 s.
    expect(starts.poll.length).toBeGreaterThanOrEqual(12);
    expect(starts.http.length).toBeGreaterThanOrEqual(18);
  });

  it('gives the HTTP function the whole budget while the poller is idle', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-budget-'));
    const httpOnly = callers.filter((caller) => caller.scope === 'http');
    const starts = await hammer(() => createStateStore(`file:${directory}`), httpOnly, 10_000);
    expect(busiestWindow(starts.http)).toBeLessThanOrEqual(5);
    expect(starts.http.length).toBeGreaterThanOrEqual(35);
  });

  /** A store whose counters cannot be incremented: every budget decision fails. */
  function unreachable(store: StateStore): StateStore {
    return {
      ...withOwnMethods(store),
      increment: async () => {
        throw new Error('OTSServerUnavailable');
      },
    };
  }

  it("falls back to its scope's share over its instances, logging once, never failing the call", async () => {
    const broken = unreachable(await open());
    const clock = new VirtualClock();
    const logs: unknown[] = [];
    // (5 − 4) / 10: one call every 10 s for each of ten HTTP instances.
    const budget = new AccountBudget({
      accountQps: 5,
      scope: 'http',
      pollQps: 4,
      instances: 10,
      clock,
      log: (entry) => logs.push(entry),
    });
    const slot = budget.bind(broken);
    const startedAt = clock.now();
    const starts: number[] = [];
    for (let call = 0; call < 3; call += 1) {
      (await slot.acquire()).settle();
      starts.push(clock.now() - startedAt);
    }
    expect(starts).toEqual([0, 10_025, 20_050]);
    expect(logs).toHaveLength(1);
    expect(JSON.stringify(logs[0])).toMatch(/0\.1 calls\/s.*10 instance\(s\).*once per instance/);
  });

  it("keeps a fallback try's increments as the sent call's count when the try lost its 100 ms race, and counts again only a try whose increments never landed", async () => {
    const pending = { count: 0 };
    const clock = new VirtualClock(HAMMER_START, { isBusy: () => pending.count > 0 });
    const inner = tracked(await open(), pending);
    let mode: 'down' | 'slow' | 'slow-then-failing' = 'down';
    const takenBack: string[] = [];
    // Slow on the virtual clock, outside `tracked`, so time moves while the store makes a try wait.
    const store: StateStore = {
      ...withOwnMethods(inner),
      increment: async (key, by) => {
        if (mode === 'down') throw new Error('OTSServerUnavailable');
        if (mode === 'slow-then-failing') {
          mode = 'slow';
          await clock.sleep(300);
          throw new Error('OTSTimeout');
        }
        if (by < 0) takenBack.push(key);
        return inner.increment(key, by);
      },
      counters: async (startKey, endKey) => {
        await clock.sleep(300);
        return inner.counters(startKey, endKey);
      },
    };
    const budget = new AccountBudget({ accountQps: 5, scope: 'http', pollQps: 1, instances: 1, clock }).bind(
      store,
    );
    const countsAt = async (bucket: number) =>
      Object.fromEntries(
        await Promise.all(
          (['all', 'http'] as const).map(async (name) => {
            const [counter] = await inner.counters(bucketKey(name, bucket), bucketKey(name, bucket + 1));
            return [name, counter?.value];
          }),
        ),
      );

    // The store fails: this instance goes on its fallback.
    (await budget.acquire()).settle();
    // The store answers, but too slowly: the call is sent after 100 ms, the try ends at 300 ms.
    mode = 'slow';
    const sent = await budget.acquire();
    const sentBucket = Math.floor(clock.now() / BUCKET_MS);
    sent.settle();
    await clock.sleep(1000);
    expect(takenBack).toEqual([]);
    expect(await countsAt(sentBucket - 1)).toEqual({ all: 1, http: 1 });
    // The try's first increment waits, then fails: nothing landed, so the call is counted where it started.
    mode = 'slow-then-failing';
    const uncounted = await budget.acquire();
    const uncountedBucket = Math.floor(clock.now() / BUCKET_MS);
    uncounted.settle();
    await clock.sleep(1000);
    await vi.waitFor(async () => expect(await countsAt(uncountedBucket)).toEqual({ all: 1, http: 1 }));
    expect(takenBack).toEqual([]);
  });

  it('honours a refusal its fallback try decided in time, even while taking its ticket back is still on its way', async () => {
    const pending = { count: 0 };
    const clock = new VirtualClock(HAMMER_START, { isBusy: () => pending.count > 0 });
    const inner = tracked(await open(), pending);
    let isDown = true;
    // Slow on the virtual clock, outside `tracked`: the window is read in 90 ms, a ticket goes
    // back in 30 ms more, so the refusal is known before the try's 100 ms are up, its take-back after.
    const store: StateStore = {
      ...withOwnMethods(inner),
      increment: async (key, by) => {
        if (isDown) throw new Error('OTSServerUnavailable');
        if (by < 0) await clock.sleep(30);
        return inner.increment(key, by);
      },
      counters: async (startKey, endKey) => {
        await clock.sleep(90);
        return inner.counters(startKey, endKey);
      },
    };
    const budget = new AccountBudget({ accountQps: 5, scope: 'http', pollQps: 1, instances: 1, clock }).bind(
      store,
    );
    // The store fails: this instance goes on its fallback.
    (await budget.acquire()).settle();
    await clock.sleep(1000);
    // Back, with the account's second already full (other instances' calls in this bucket).
    isDown = false;
    await inner.increment(bucketKey('all', Math.floor(clock.now() / BUCKET_MS)), 5);
    // Before, the refusal waited for its take-back, lost the race, and the call went out.
    await expect(budget.acquire({ latestStartAt: clock.now() + 500 })).rejects.toMatchObject({
      name: 'RateLimitWaitTooLongError',
    });
  });

  it('keeps every instance of both functions together within the account limit, averaged over 10 s, while the store is down', async () => {
    const clock = new VirtualClock();
    const broken = unreachable(await open());
    const startedAt = clock.now();
    const starts: number[] = [];
    const instances: Array<{ scope: BudgetScope }> = [
      { scope: 'poll' },
      ...Array.from({ length: 10 }, () => ({ scope: 'http' as const })),
    ];
    await Promise.all(
      instances.map(async ({ scope }) => {
        const slot = new AccountBudget({
          accountQps: 5,
          scope,
          pollQps: 4,
          instances: scope === 'poll' ? 1 : 10,
          clock,
        }).bind(broken);
        while (clock.now() - startedAt < 30_000) {
          (await slot.acquire()).settle();
          starts.push(clock.now());
        }
      }),
    );
    // Uncoordinated instances cannot share a second exactly (ten may fire in the same one), but at
    // 0.1 call/s each they hold the account's 5/s over any 10 s: the poller's 4/s and one call each.
    expect(busiestWindow(starts, 10_000)).toBeLessThanOrEqual(50);
    // Not silenced: the poller keeps its 4/s, the HTTP instances one call each per 10 s.
    expect(starts.length).toBeGreaterThanOrEqual(4 * 29 + 10 * 3);
  });

  it('refuses a poller share that leaves the HTTP function nothing', () => {
    expect(
      () =>
        new AccountBudget({
          accountQps: 5,
          scope: 'http',
          pollQps: 5,
          instances: 10,
          clock: new VirtualClock(),
        }),
    ).toThrow(/POLL_QPS \(5\) leaves the HTTP function nothing/);
  });

  it('treats a store too slow to keep the guarantee as unreachable, instead of waiting on it forever', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const pending = { count: 0 };
    // Every store call takes 60 ms, so no try can decide within its 100 ms.
    const slow = tracked(
      aroundStore(store, async (call) => {
        clock.advance(60);
        return call();
      }),
      pending,
    );
    const logs: unknown[] = [];
    const budget = new AccountBudget({
      accountQps: 5,
      scope: 'http',
      pollQps: 4,
      instances: 1,
      clock,
      log: (entry) => logs.push(entry),
    });
    (await budget.bind(slow).acquire()).settle();
    expect(JSON.stringify(logs)).toMatch(/took \d+ ms to grant a slot.*10 times running/);
    // The refused tries gave their slots back; the call the fallback granted counts itself, unawaited.
    const counted = async (name: string) =>
      (await store.counters(`budget/${name}/`, `budget/${name}0`)).reduce(
        (sum, counter) => sum + counter.value,
        0,
      );
    await vi.waitFor(async () => {
      expect(pending.count).toBe(0);
      expect(await counted('all')).toBe(1);
      expect(await counted('http')).toBe(1);
    });
  });

  it('stops waiting when the binding says the slot is no longer needed', async () => {
    const store = await open();
    const budget = new AccountBudget({
      accountQps: 1,
      scope: 'http',
      pollQps: 0.5,
      instances: 1,
      clock: new VirtualClock(),
    });
    (await budget.bind(store).acquire()).settle();
    let tries = 0;
    const answeredElsewhere = new Error('answered meanwhile');
    const slot = budget.bind(store, {
      beforeEachTry: async () => {
        tries += 1;
        if (tries > 1) throw answeredElsewhere;
      },
    });
    await expect(slot.acquire()).rejects.toBe(answeredElsewhere);
  });

  it('refuses, without keeping a slot, a wait past the deadline', async () => {
    const store = await open();
    const clock = new VirtualClock();
    const budget = new AccountBudget({ accountQps: 1, scope: 'http', pollQps: 0.5, instances: 1, clock });
    (await budget.bind(store).acquire()).settle();
    await expect(budget.bind(store).acquire({ latestStartAt: clock.now() + 200 })).rejects.toMatchObject({
      name: 'RateLimitWaitTooLongError',
    });
    // The refused try's take-back is not awaited by the verdict: it lands just after.
    await vi.waitFor(async () => {
      const counts = await store.counters('budget/all/', 'budget/all0');
      expect(counts.reduce((sum, counter) => sum + counter.value, 0)).toBe(1);
    });
  });
});

describe('account budget on Tablestore (official SDK, loopback wire protocol)', () => {
  let server: TablestoreServer;
  beforeAll(async () => {
    server = await startTablestoreServer({ instance: 'cfw-budget', credentials: [ROLE] });
  });
  afterAll(() => server.close());

  it('holds the account limit across instances sharing one counter table', async () => {
    const open = () =>
      createStateStore('tablestore://cfw-budget/budget_state', {
        credentials: ROLE,
        env: { TABLESTORE_ENDPOINT: server.endpoint },
      });
    const starts = await hammer(open, callers, 6000);
    expect(busiestWindow([...starts.poll, ...starts.http])).toBeLessThanOrEqual(5);
    expect(busiestWindow(starts.poll)).toBeLessThanOrEqual(2);
    // The poller wants slots throughout, so HTTP keeps within 5 − 2.
    expect(busiestWindow(starts.http)).toBeLessThanOrEqual(3);
    expect(starts.poll.length).toBeGreaterThanOrEqual(8);
    expect(server.calls.filter((call) => call.operation === 'UpdateRow').length).toBeGreaterThan(20);
  });

  it('holds the account limit while the store fails some instances for a moment, and takes them back at once', async () => {
    const open = () =>
      createStateStore('tablestore://cfw-budget/budget_faults', {
        credentials: ROLE,
        env: { TABLESTORE_ENDPOINT: server.endpoint },
      });
    let isArmed = false;
    // Two seconds in, the next few counter increments fail, whichever instances make them.
    const outage = (store: StateStore, clock: Clock): StateStore =>
      aroundStore(store, (call) => {
        if (!isArmed && clock.now() >= HAMMER_START + 2000) {
          isArmed = true;
          server.failNext(4, { httpStatus: 503, code: 'OTSServerUnavailable' }, 'UpdateRow');
        }
        return call();
      });
    const withOutage = callers.map((caller) => ({ ...caller, storeWith: outage }));
    try {
      const starts = await hammer(open, withOutage, 8000);
      const faults = server.calls.filter((call) => call.code === 'OTSServerUnavailable');
      expect(faults).toHaveLength(4);
      expect(busiestWindow([...starts.poll, ...starts.http])).toBeLessThanOrEqual(5);
      expect(busiestWindow(starts.poll)).toBeLessThanOrEqual(2);
      expect(busiestWindow(starts.http)).toBeLessThanOrEqual(3);
      // The instances that fell back are back on the store: HTTP keeps its 3 per 1.2 s after the
      // outage rather than 3 per 10 s on a local share.
      const afterOutage = starts.http.filter((at) => at >= HAMMER_START + 3000);
      expect(afterOutage.length).toBeGreaterThanOrEqual(10);
    } finally {
      server.clearFaults();
    }
  });
});

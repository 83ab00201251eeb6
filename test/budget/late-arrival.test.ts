import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConnector } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { AccountBudget, bucketKey, lateKey } from '../../shared/budget';
import { type CallBudget, createCamsClient, type LimiterSlot } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import { aroundStore, createStateStore, type StateStore } from '../../shared/state';
import { VirtualClock } from '../support/virtual-clock';
import { busiestWindow, tracked } from './support';

const openStore = () => createStateStore(`file:${mkdtempSync(join(tmpdir(), 'cfw-late-'))}`);

async function countersOf(store: StateStore): Promise<Record<string, number>> {
  const counters = await store.counters('budget/all/', 'budget/all0');
  return Object.fromEntries(counters.map((counter) => [counter.key, counter.value]));
}

function httpBudget(clock: Clock, accountQps = 5): AccountBudget {
  return new AccountBudget({ accountQps, scope: 'http', pollQps: 1, instances: 10, clock, random: () => 0 });
}

/**
 * A store slow (on the virtual clock, outside `tracked`, so time moves meanwhile) to take a count
 * again: `delay.ms`, which a test may change. Once `isFrozen()` holds, a count that was on its
 * way never lands, as on an FC instance frozen after answering.
 */
function slowToCountAgain(
  inner: StateStore,
  clock: Clock,
  delay: { ms: number },
  isFrozen: () => boolean = () => false,
): StateStore {
  return {
    ...aroundStore(inner, (call) => call()),
    increment: async (key, by) => {
      if (key.endsWith('/late')) await clock.sleep(delay.ms);
      if (isFrozen()) return new Promise<number>(() => {});
      return inner.increment(key, by);
    },
  };
}

/** One instance's budget on a store slow to take a count again (see slowToCountAgain). */
async function slowCountingInstance(lateCountMs: number) {
  const pending = { count: 0 };
  const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0), { isBusy: () => pending.count > 0 });
  const inner = tracked(await openStore(), pending);
  const delay = { ms: lateCountMs };
  const budget = httpBudget(clock);
  return { clock, inner, delay, budget, bound: budget.bind(slowToCountAgain(inner, clock, delay)) };
}

/**
 * `callers` FC instances of the HTTP function (each its own budget, CAMS client and store client)
 * calling the CAMS simulator in a loop for `durationMs`, plus, when `slowTransitMs` is set, as many
 * single calls whose request spends that long in transit before CAMS sees (and counts) it, or,
 * when `slowConnectMs` is set, whose client takes that long to set its connection up.
 * Everything runs on one virtual clock: the budgets, the CAMS clients and the simulator, whose
 * transit fault sleeps on it. Time moves only while no store call and no CAMS request runs, except
 * requests parked in transit. `answerDelayMs` models CAMS's latency: each answer reaches its caller
 * (and settles its slot) that long after CAMS counted the call.
 */
async function runCallers(options: {
  readonly callers: number;
  readonly durationMs: number;
  readonly slowCallers?: number;
  readonly slowTransitMs?: number;
  readonly slowConnectMs?: number;
  /** Calls each slow caller makes, one after the other. */
  readonly slowCalls?: number;
  readonly answerDelayMs?: number;
  readonly rateLimit?: number | false;
  /**
   * The slow callers' store takes this long (virtual) to take a late count, and each slow caller is
   * then frozen as FC freezes an instance that has answered: a count still pending once its
   * `settled()` is over never lands.
   */
  readonly slowLateCountMs?: number;
}): Promise<{
  arrivals: number[];
  codes: string[];
  slowArrivals: number[];
  lateKeys: string[];
  /** Connections the slow callers' clients set up. */
  slowConnections: number;
  startedAt: number;
}> {
  const slowConnections = { count: 0 };
  const storeCalls = { count: 0 };
  const busy = { requests: 0, parked: 0 };
  const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0), {
    isBusy: () => storeCalls.count > 0 || busy.requests > busy.parked,
  });
  const simulatorClock: Clock = {
    now: () => clock.now(),
    sleep: async (ms, signal) => {
      busy.parked += 1;
      try {
        await clock.sleep(ms, signal);
      } finally {
        busy.parked -= 1;
      }
    },
  };
  const flows = Array.from(
    { length: options.callers },
    (_, index) => `1000000000000${String(index + 1).padStart(2, '0')}`,
  );
  const slowFlows = Array.from(
    { length: options.slowCallers ?? 1 },
    (_, index) => `9000000000000${String(index + 1).padStart(2, '0')}`,
  );
  const simulator = await startCamsSimulator({
    clock: simulatorClock,
    rateLimit: options.rateLimit ?? 5,
    flows: [...flows, ...slowFlows].map((flowId) => ({
      flowId,
      flowName: `flow_${flowId}`,
      status: 'PUBLISHED',
    })),
  });
  try {
    const directory = mkdtempSync(join(tmpdir(), 'cfw-late-'));
    const startedAt = clock.now();
    const instance = async (slowConnectMs?: number, lateCountMs?: number) => {
      const tracking = tracked(await createStateStore(`file:${directory}`), storeCalls);
      const frozen = { isFrozen: false };
      const store =
        lateCountMs === undefined
          ? tracking
          : slowToCountAgain(tracking, clock, { ms: lateCountMs }, () => frozen.isFrozen);
      const accountBudget = httpBudget(clock);
      const bound = accountBudget.bind(store);
      let answered: Promise<void> = Promise.resolve();
      const budget: CallBudget = {
        acquire: async (acquireOptions) => {
          const slot = await bound.acquire(acquireOptions);
          busy.requests += 1;
          let isOver = false;
          return {
            connected: (atMs) => slot.connected?.(atMs),
            settle: () => {
              if (isOver) return;
              isOver = true;
              busy.requests -= 1;
              answered = clock.sleep(options.answerDelayMs ?? 0).then(() => slot.settle());
            },
          };
        },
      };
      const client = createCamsClient({
        endpoint: simulator.endpoint,
        clock,
        random: () => 0,
        maxAttempts: 1,
        ...(slowConnectMs === undefined
          ? {}
          : { connector: slowConnector(slowConnectMs, simulatorClock, slowConnections) }),
      });
      return async (flowId: string) => {
        await client.getFlow({ flowId }, { credentials: SIMULATOR_CREDENTIALS, budget });
        await answered;
        if (lateCountMs === undefined) return;
        // The handler answers once its budget has settled; FC then freezes the instance.
        await accountBudget.settled();
        frozen.isFrozen = true;
      };
    };
    if (options.slowTransitMs !== undefined) {
      for (const flowId of slowFlows) {
        simulator.injectFault({ kind: 'transit', ms: options.slowTransitMs }, { flowId, times: 1 });
      }
    }
    const slowCallers =
      options.slowTransitMs === undefined && options.slowConnectMs === undefined
        ? []
        : await Promise.all(slowFlows.map(() => instance(options.slowConnectMs, options.slowLateCountMs)));
    const callers = await Promise.all(flows.map(() => instance()));
    await Promise.all([
      ...slowCallers.map(async (call, index) => {
        for (let number = 0; number < (options.slowCalls ?? 1); number += 1)
          await call(slowFlows[index] ?? '');
      }),
      ...callers.map(async (call, index) => {
        while (clock.now() - startedAt < options.durationMs) await call(flows[index] ?? '');
      }),
    ]);
    const store = await createStateStore(`file:${directory}`);
    const lateKeys = (await store.counters('budget/all/', 'budget/all0'))
      .filter((counter) => counter.key.endsWith('/late'))
      .map((counter) => counter.key);
    return {
      arrivals: simulator.calls.map((call) => call.at),
      codes: simulator.calls.map((call) => call.code),
      slowArrivals: simulator.calls
        .filter((call) => slowFlows.includes(call.flowId ?? ''))
        .map((call) => call.at),
      lateKeys,
      slowConnections: slowConnections.count,
      startedAt,
    };
  } finally {
    await simulator.close();
  }
}

/** undici's own connector, whose connections take `delayMs` (on `clock`) to be set up. */
function slowConnector(
  delayMs: number,
  clock: Clock,
  connections: { count: number },
): buildConnector.connector {
  const connect = buildConnector({});
  return (connectOptions, callback) =>
    connect(connectOptions, (...result) => {
      connections.count += 1;
      if (delayMs === 0) callback(...result);
      else void clock.sleep(delayMs).then(() => callback(...result));
    });
}

describe('account budget: a call that reaches CAMS late', () => {
  it('counts a call answered more than a window after its stamp again, in the bucket its answer came in', async () => {
    const store = await openStore();
    const pending = { count: 0 };
    const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
    const budget = httpBudget(clock).bind(tracked(store, pending));
    const stampBucket = Math.floor(clock.now() / 100);

    const slow = await budget.acquire();
    clock.advance(1100);
    slow.settle();
    slow.settle();

    await vi.waitFor(async () =>
      expect(await countersOf(store)).toEqual({
        [bucketKey('all', stampBucket)]: 1,
        [lateKey(stampBucket + 11)]: 1,
      }),
    );
  });

  it('counts a call still in flight again every 0.9 s (a window less the decision time), and stops once it is answered', async () => {
    const store = await openStore();
    const pending = { count: 0 };
    const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0), { isBusy: () => pending.count > 0 });
    const budget = httpBudget(clock).bind(tracked(store, pending));
    const stampBucket = Math.floor(clock.now() / 100);

    const stuck = await budget.acquire();
    await clock.sleep(2500);
    stuck.settle();
    await clock.sleep(5000);

    await vi.waitFor(async () =>
      expect(await countersOf(store)).toEqual({
        [bucketKey('all', stampBucket)]: 1,
        [lateKey(stampBucket + 9)]: 1,
        [lateKey(stampBucket + 18)]: 1,
        [lateKey(stampBucket + 25)]: 1,
      }),
    );
  });

  it('counts a call once more when its connection is set up more than the decision time after its stamp, once, and only while in flight', async () => {
    const store = await openStore();
    const pending = { count: 0 };
    const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
    const budget = httpBudget(clock).bind(tracked(store, pending));
    const stampBucket = Math.floor(clock.now() / 100);

    const warm = await budget.acquire();
    clock.advance(100);
    warm.connected?.(clock.now());
    warm.settle();
    const cold = await budget.acquire();
    clock.advance(500);
    cold.connected?.(clock.now());
    cold.connected?.(clock.now());
    cold.settle();
    clock.advance(100);
    cold.connected?.(clock.now());

    await vi.waitFor(async () =>
      expect(await countersOf(store)).toEqual({
        [bucketKey('all', stampBucket)]: 1,
        [bucketKey('all', stampBucket + 1)]: 1,
        [lateKey(stampBucket + 6)]: 1,
      }),
    );
  });

  it('waits for a late answer’s count before the handler answers, and gives up on a store that never takes it once decisions stop seeing the call', async () => {
    // A store slow to take a late count: 50 ms, then forever.
    const { clock, inner, delay, budget, bound } = await slowCountingInstance(50);

    const slow = await bound.acquire();
    clock.advance(1100);
    slow.settle();
    await budget.settled();
    expect(Object.keys(await countersOf(inner)).filter((key) => key.endsWith('/late'))).toHaveLength(1);

    delay.ms = Number.POSITIVE_INFINITY;
    const stuck = await bound.acquire();
    clock.advance(1100);
    stuck.settle();
    const waitedFrom = clock.now();
    await budget.settled();
    // The stamp leaves the reach 1.2 s after it: 100 ms after this answer, 1.1 s after the stamp.
    expect(clock.now() - waitedFrom).toBe(100);
  });

  it('never waits past the caller’s own deadline to answer (the HTTP function’s 504 must beat FC’s timeout)', async () => {
    const { clock, delay, budget, bound } = await slowCountingInstance(Number.POSITIVE_INFINITY);
    delay.ms = Number.POSITIVE_INFINITY;
    const cold = await bound.acquire();
    clock.advance(500);
    cold.connected?.(clock.now());
    cold.settle();
    const waitedFrom = clock.now();
    await budget.settled({ notAfter: waitedFrom + 250 });
    expect(clock.now() - waitedFrom).toBe(250);
    // Already past it: no wait at all.
    const again = await bound.acquire();
    clock.advance(500);
    again.connected?.(clock.now());
    again.settle();
    const at = clock.now();
    await budget.settled({ notAfter: at - 1 });
    expect(clock.now()).toBe(at);
  });

  it('waits for a count again until decisions stop seeing the call’s previous count, so a frozen instance cannot lose it', async () => {
    const { clock, inner, delay, budget, bound } = await slowCountingInstance(300);

    // A cold connection up 500 ms after the stamp, answered at once; its count takes 300 ms.
    const cold = await bound.acquire();
    clock.advance(500);
    cold.connected?.(clock.now());
    cold.settle();
    let waitedFrom = clock.now();
    await budget.settled();
    expect(clock.now() - waitedFrom).toBe(300);
    expect(Object.keys(await countersOf(inner)).filter((key) => key.endsWith('/late'))).toHaveLength(1);

    // A store that never takes it: waited for until the stamp leaves the reach (1.2 s after it,
    // less the clock skew), never longer.
    delay.ms = Number.POSITIVE_INFINITY;
    await clock.sleep(5000);
    const stampedAt = clock.now();
    const stuck = await bound.acquire();
    clock.advance(500);
    stuck.connected?.(clock.now());
    stuck.settle();
    waitedFrom = clock.now();
    await budget.settled();
    expect(clock.now()).toBe(stampedAt + 1200);
    expect(clock.now() - waitedFrom).toBe(700);
  });

  it('costs a normal call nothing more, and a slot whose call was never sent nothing at all', async () => {
    const store = await openStore();
    const pending = { count: 0 };
    let increments = 0;
    const counting = aroundStore(store, (call) => call());
    const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
    const budget = httpBudget(clock).bind(
      tracked(
        {
          ...counting,
          increment: (key, by) => {
            increments += 1;
            return counting.increment(key, by);
          },
        },
        pending,
      ),
    );

    // Answered 900 ms after its stamp: slow for CAMS, but within the window.
    const quick = await budget.acquire();
    const incrementsPerGrant = increments;
    clock.advance(900);
    quick.settle();
    const neverSent = (await budget.acquire()) as LimiterSlot;
    clock.advance(1500);
    neverSent.release();
    neverSent.settle();
    // Anything counted would have started by now (the count is not awaited, but starts at once).
    await new Promise((resolve) => setImmediate(resolve));
    await vi.waitFor(() => expect(pending.count).toBe(0));

    expect(increments).toBe(2 * incrementsPerGrant);
    expect(Object.keys(await countersOf(store)).filter((key) => key.endsWith('/late'))).toEqual([]);
  });

  it('keeps calls within 5 per rolling second as CAMS counts them, by arrival, when one spends 1.1 s in transit', async () => {
    const world = await runCallers({ callers: 4, durationMs: 4000, slowTransitMs: 1100 });

    expect(world.codes.filter((code) => code !== 'OK')).toEqual([]);
    expect(world.slowArrivals).toEqual([world.startedAt + 1100]);
    expect(busiestWindow(world.arrivals)).toBeLessThanOrEqual(5);
    // Not starved: about 5 calls per 1.2 s.
    expect(world.arrivals.length).toBeGreaterThanOrEqual(14);
  });

  it.each([1500, 3000])(
    'keeps a call %i ms in transit visible to every decision while it is in flight: at most 5 arrivals per rolling second',
    async (transitMs) => {
      // CAMS's own limit off, so an over-count would show as a 6th arrival instead of a refusal.
      const world = await runCallers({
        callers: 4,
        durationMs: 5000,
        slowTransitMs: transitMs,
        rateLimit: false,
      });

      expect(world.slowArrivals).toEqual([world.startedAt + transitMs]);
      expect(busiestWindow(world.arrivals)).toBeLessThanOrEqual(5);
      expect(world.arrivals.length).toBeGreaterThanOrEqual(16);
    },
  );

  it('keeps calls within 5 per rolling second, by arrival, when one instance takes 500 ms to connect to CAMS', async () => {
    // CAMS's own limit off, so an over-count would show as a 6th arrival instead of a refusal.
    const world = await runCallers({ callers: 4, durationMs: 4000, slowConnectMs: 500, rateLimit: false });

    expect(world.slowArrivals).toEqual([world.startedAt + 500]);
    expect(busiestWindow(world.arrivals)).toBeLessThanOrEqual(5);
    // Counted again once, when its connection was up; the others' instant connections cost nothing.
    expect(world.lateKeys).toEqual([lateKey(Math.floor((world.startedAt + 500) / 100))]);
    expect(world.arrivals.length).toBeGreaterThanOrEqual(14);
  });

  it('keeps calls within 5 per rolling second, by arrival, when an instance that took 500 ms to connect answers while its store takes 300 ms to count it again, and is frozen', async () => {
    // CAMS's own limit off, so an over-count would show as a 6th arrival instead of a refusal.
    const world = await runCallers({
      callers: 4,
      durationMs: 4000,
      slowConnectMs: 500,
      slowLateCountMs: 300,
      rateLimit: false,
    });

    expect(world.slowArrivals).toEqual([world.startedAt + 500]);
    expect(busiestWindow(world.arrivals)).toBeLessThanOrEqual(5);
    expect(world.lateKeys).toEqual([lateKey(Math.floor((world.startedAt + 500) / 100))]);
  });

  it('counts a call on a warm connection nothing more', async () => {
    const world = await runCallers({ callers: 0, durationMs: 0, slowConnectMs: 500, slowCalls: 3 });

    expect(world.slowConnections).toBe(1);
    expect(world.slowArrivals).toEqual([world.startedAt + 500, world.startedAt + 500, world.startedAt + 500]);
    expect(world.lateKeys).toEqual([lateKey(Math.floor((world.startedAt + 500) / 100))]);
  });

  it('counts nothing again and keeps the throughput when CAMS takes 300 ms to answer', async () => {
    const quick = await runCallers({ callers: 3, durationMs: 10_000 });
    const slow = await runCallers({ callers: 3, durationMs: 10_000, answerDelayMs: 300 });

    expect(slow.codes.filter((code) => code !== 'OK')).toEqual([]);
    expect(slow.lateKeys).toEqual([]);
    expect(busiestWindow(slow.arrivals)).toBeLessThanOrEqual(5);
    // About 5 calls per 1.2 s either way; counting these calls twice cost a third of them (30 of 43).
    expect(quick.arrivals.length).toBeGreaterThanOrEqual(40);
    expect(slow.arrivals.length).toBeGreaterThanOrEqual(quick.arrivals.length - 2);
  });
});

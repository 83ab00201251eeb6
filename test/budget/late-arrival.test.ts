import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('account budget: a call that reaches CAMS late', () => {
  it('counts a call answered later than the decision time again, in the bucket its answer came in', async () => {
    const store = await openStore();
    const pending = { count: 0 };
    const clock = new VirtualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
    const budget = httpBudget(clock).bind(tracked(store, pending));
    const stampBucket = Math.floor(clock.now() / 100);

    const slow = await budget.acquire();
    clock.advance(900);
    slow.settle();
    slow.settle();

    await vi.waitFor(async () =>
      expect(await countersOf(store)).toEqual({
        [bucketKey('all', stampBucket)]: 1,
        [lateKey(stampBucket + 9)]: 1,
      }),
    );
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

    const quick = await budget.acquire();
    const incrementsPerGrant = increments;
    clock.advance(100);
    quick.settle();
    const neverSent = (await budget.acquire()) as LimiterSlot;
    clock.advance(900);
    neverSent.release();
    neverSent.settle();
    // Anything counted would have started by now (the count is not awaited, but starts at once).
    await new Promise((resolve) => setImmediate(resolve));
    await vi.waitFor(() => expect(pending.count).toBe(0));

    expect(increments).toBe(2 * incrementsPerGrant);
    expect(Object.keys(await countersOf(store)).filter((key) => key.endsWith('/late'))).toEqual([]);
  });

  it('keeps calls within 5 per rolling second as CAMS counts them, by arrival, when one spends 900 ms in transit', async () => {
    // Everything runs on one virtual clock: the budgets, the CAMS clients and the simulator, whose
    // transit fault sleeps on it. Time moves only while no store call and no CAMS request runs,
    // except requests parked in transit.
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
    const flows = ['100000000000001', '100000000000002', '100000000000003', '100000000000004'];
    const slowFlow = '100000000000009';
    const simulator = await startCamsSimulator({
      clock: simulatorClock,
      flows: [...flows, slowFlow].map((flowId) => ({
        flowId,
        flowName: `flow_${flowId}`,
        status: 'PUBLISHED',
      })),
    });
    try {
      const directory = mkdtempSync(join(tmpdir(), 'cfw-late-'));
      const startedAt = clock.now();
      /** One FC instance: its own budget, CAMS client and store client. */
      const instance = async () => {
        const store = tracked(await createStateStore(`file:${directory}`), storeCalls);
        const bound = httpBudget(clock).bind(store);
        const budget: CallBudget = {
          acquire: async (options) => {
            const slot = await bound.acquire(options);
            busy.requests += 1;
            let isOver = false;
            return {
              settle: () => {
                if (!isOver) busy.requests -= 1;
                isOver = true;
                slot.settle();
              },
            };
          },
        };
        const client = createCamsClient({
          endpoint: simulator.endpoint,
          clock,
          random: () => 0,
          maxAttempts: 1,
        });
        return (flowId: string) => client.getFlow({ flowId }, { credentials: SIMULATOR_CREDENTIALS, budget });
      };
      simulator.injectFault({ kind: 'transit', ms: 900 }, { flowId: slowFlow, times: 1 });
      const slowCaller = await instance();
      const callers = await Promise.all(flows.map(() => instance()));

      await Promise.all([
        slowCaller(slowFlow),
        ...callers.map(async (call, index) => {
          while (clock.now() - startedAt < 4000) await call(flows[index] ?? '');
        }),
      ]);

      const arrivals = simulator.calls.map((call) => call.at);
      expect(simulator.calls.filter((call) => call.code !== 'OK')).toEqual([]);
      expect(simulator.calls.find((call) => call.flowId === slowFlow)?.at).toBe(startedAt + 900);
      expect(busiestWindow(arrivals)).toBeLessThanOrEqual(5);
      // Not starved: about 5 calls per 1.2 s.
      expect(arrivals.length).toBeGreaterThanOrEqual(14);
    } finally {
      await simulator.close();
    }
  });
});

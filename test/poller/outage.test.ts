import { afterEach, describe, expect, it } from 'vitest';
import type { SimFlow } from '../../local/cams-simulator';
import { answeredAt } from './check-gaps';
import { type PollerWorld, startPollerWorld } from './harness';

const INTERVALS = 'BLOCKED=30,THROTTLED=30,PUBLISHED=60,*=60';
const BLOCKED_FLOW = '700000000000000';
const THROTTLED_FLOW = '700000000000001';

/** One BLOCKED, one THROTTLED and eight PUBLISHED flows. */
function tenFlows(): SimFlow[] {
  return Array.from({ length: 10 }, (_, index) => ({
    flowId: String(700000000000000 + index),
    flowName: `f${index}`,
    status: index === 0 ? 'BLOCKED' : index === 1 ? 'THROTTLED' : 'PUBLISHED',
  }));
}

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Runs the poller once a minute, on the minute, for minutes [from, to). */
async function runMinutes(current: PollerWorld, startedAt: number, from: number, to: number) {
  for (let minute = from; minute < to; minute += 1) {
    const due = startedAt + minute * 60_000;
    if (current.clock.now() < due) current.clock.advance(due - current.clock.now());
    await current.run();
  }
}

describe('an outage of the whole account', () => {
  it("does not retry a flow at full speed when, CAMS back, the flow's own answer fails", async () => {
    world = await startPollerWorld({ flows: tenFlows().slice(0, 2), intervals: INTERVALS });
    const startedAt = world.clock.now();
    await runMinutes(world, startedAt, 0, 2);
    // Every call fails 503 until 20 s into a run; from then on CAMS refuses the BLOCKED flow alone.
    const backAt = startedAt + 2 * 60_000 + 20_000;
    world.simulator.injectFault({ kind: 'http-status', httpStatus: 503 }, { untilMs: backAt });
    world.simulator.injectFault({ kind: 'error', code: 'InvalidParameter' }, { flowId: BLOCKED_FLOW });
    await runMinutes(world, startedAt, 2, 3);
    const refused = world.simulator.calls.filter(
      (call) => call.flowId === BLOCKED_FLOW && call.at >= backAt && call.code === 'InvalidParameter',
    );
    // Its backoff after the outage was dropped when CAMS answered again; the one its own failure
    // then earned holds (5 s, then 10 s …): a few calls, not one per POLL_QPS slot (103 before).
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(4);
  }, 60_000);

  it('costs a few probes a minute, and once CAMS is back every flow is checked within its interval', async () => {
    world = await startPollerWorld({ flows: tenFlows(), intervals: INTERVALS });
    const startedAt = world.clock.now();
    await runMinutes(world, startedAt, 0, 2);
    // CAMS answers 503 to every call for 20 minutes, and comes back 20 s into a run.
    const downAt = startedAt + 2 * 60_000;
    const backAt = startedAt + 22 * 60_000 + 20_000;
    world.simulator.injectFault({ kind: 'http-status', httpStatus: 503 }, { untilMs: backAt });
    await runMinutes(world, startedAt, 2, 25);

    const outageCalls = world.simulator.calls.filter((call) => call.at >= downAt && call.at < backAt);
    const perMinute = outageCalls.length / ((backAt - downAt) / 60_000);
    // Each probe is one GetFlow the client tries 4 times: at 0, 3, 7, 16, 32 and 48 s into each
    // run, 24 calls a minute whatever the number of flows. Checking every flow at its interval
    // would cost 4 × 25 = 100 a minute here (with per-flow backoffs instead: 18 a minute on
    // average, but no flow answered within 160 s of CAMS coming back).
    expect(perMinute).toBeLessThanOrEqual(30);
    expect(outageCalls.every((call) => call.httpStatus === 503)).toBe(true);

    const answered = answeredAt(world.simulator.calls);
    const firstAfter = (flowId: string) =>
      (answered.get(flowId)?.find((at) => at >= backAt) ?? Number.POSITIVE_INFINITY) - backAt;
    // The next probe (at most 15 s after the last) finds CAMS back, then every flow follows:
    // measured 12–14 s after recovery.
    for (const flow of tenFlows()) expect(firstAfter(flow.flowId)).toBeLessThanOrEqual(20_000);
  }, 120_000);

  it('retries a flow CAMS alone answers 503 about once per its interval, and sees it back within it', async () => {
    world = await startPollerWorld({ flows: tenFlows(), intervals: INTERVALS });
    const startedAt = world.clock.now();
    const backAt = startedAt + 20 * 60_000 + 20_000;
    world.simulator.injectFault(
      { kind: 'http-status', httpStatus: 503 },
      { flowId: BLOCKED_FLOW, untilMs: backAt },
    );
    await runMinutes(world, startedAt, 0, 23);
    const calls = world.simulator.calls.filter((call) => call.flowId === BLOCKED_FLOW);
    const failing = calls.filter((call) => call.at < backAt);
    // 4 tries a check, a check every 30 s once its backoff reached the interval: 160 in 20 min
    // at most (measured 92, seen back 13 s after); the 15-minute per-flow backoff it had before
    // saw it back 463 s late.
    expect(failing.length).toBeLessThanOrEqual(4 * 41);
    const firstBack = calls.find((call) => call.at >= backAt && call.httpStatus === 200);
    expect((firstBack?.at ?? Number.POSITIVE_INFINITY) - backAt).toBeLessThanOrEqual(30_000);
    // The others were never held back: CAMS kept answering them, so no probing.
    expect(
      world.simulator.calls.filter((call) => call.flowId === THROTTLED_FLOW).length,
    ).toBeGreaterThanOrEqual(44);
  }, 120_000);

  it('still backs off a flow whose own answer is bad, while the others are checked on schedule', async () => {
    world = await startPollerWorld({ flows: tenFlows(), intervals: INTERVALS });
    world.simulator.injectFault({ kind: 'error', code: 'InvalidParameter' }, { flowId: BLOCKED_FLOW });
    const startedAt = world.clock.now();
    await runMinutes(world, startedAt, 0, 20);
    const calls = (flowId: string) => world?.simulator.calls.filter((call) => call.flowId === flowId) ?? [];
    // 5 s, 10 s, 20 s … 640 s: 9 checks in 20 minutes; at its 30 s interval it would be 40.
    expect(calls(BLOCKED_FLOW).length).toBeLessThanOrEqual(10);
    // Its neighbour with the same interval is checked every 30 s throughout.
    expect(calls(THROTTLED_FLOW).length).toBeGreaterThanOrEqual(38);
    expect(world.logs).toContainEqual(
      expect.objectContaining({ msg: 'flow check failed; backing off', code: 'InvalidParameter' }),
    );
  }, 120_000);
});

describe('a GetFlow answer that cannot be right', () => {
  it.each([
    [
      'about another flow',
      (answer: Record<string, unknown>) => ({
        ...answer,
        Data: { ...(answer.Data as object), FlowId: THROTTLED_FLOW, Status: 'THROTTLED' },
      }),
    ],
    [
      'with a status that is no upper-case word',
      (answer: Record<string, unknown>) => ({
        ...answer,
        Data: { ...(answer.Data as object), Status: 'PUBLISHED\n[webhook] verified' },
      }),
    ],
    [
      'without Code',
      (answer: Record<string, unknown>) => ({ RequestId: answer.RequestId, Data: answer.Data }),
    ],
  ])(
    '%s is the flow’s own failure: backed off, nothing announced, the others on schedule',
    async (_name, rewrite) => {
      world = await startPollerWorld({ flows: tenFlows(), intervals: INTERVALS });
      const startedAt = world.clock.now();
      await runMinutes(world, startedAt, 0, 1);
      world.simulator.injectFault({ kind: 'answer', rewrite }, { action: 'GetFlow', flowId: BLOCKED_FLOW });
      await runMinutes(world, startedAt, 1, 21);
      const calls = (flowId: string) =>
        world?.simulator.calls.filter((call) => call.flowId === flowId && call.at >= startedAt + 60_000) ??
        [];
      // Backed off 5 s, 10 s, 20 s … like any bad answer of its own: at its 30 s interval it would be 40.
      expect(calls(BLOCKED_FLOW).length).toBeLessThanOrEqual(10);
      expect(calls(THROTTLED_FLOW).length).toBeGreaterThanOrEqual(38);
      expect(world.logs).toContainEqual(
        expect.objectContaining({ msg: 'flow check failed; backing off', code: 'InvalidResponse' }),
      );
      // CAMS answers rightly again: the flow is still BLOCKED, so nothing was ever announced.
      world.simulator.clearFaults();
      await runMinutes(world, startedAt, 21, 40);
      expect(world.delivered()).toEqual([]);
      expect(calls(BLOCKED_FLOW).length).toBeGreaterThan(10);
    },
    120_000,
  );
});

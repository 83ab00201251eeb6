import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../shared/poller';
import { DELIVERY_LEASE_MS } from '../../shared/poller/delivery-lease';
import {
  numberedFlows,
  type PollerWorld,
  startPollerWorld,
  startTablestoreStores,
  storeWithPut,
} from './harness';

const flows = (count: number, status = 'PUBLISHED') => numberedFlows(count, 900000000000000, status);

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('poller', () => {
  it('records a silent baseline, then announces each change once', async () => {
    world = await startPollerWorld({ flows: flows(3) });
    const first = await world.run();
    expect(first).toMatchObject({
      flowsChecked: 3,
      changes: 0,
      delivered: 0,
      pending: 0,
      failed: 0,
      camsCalls: 3,
    });
    world.simulator.setStatus('900000000000001', 'THROTTLED');
    world.clock.advance(61_000);
    const second = await world.run();
    expect(second).toMatchObject({ flowsChecked: 3, changes: 1, delivered: 1, pending: 0 });
    const [event] = world.delivered();
    expect(event).toMatchObject({
      type: 'flow.status_changed',
      data: {
        flowId: '900000000000001',
        flowName: 'flow_1',
        previousStatus: 'PUBLISHED',
        status: 'THROTTLED',
      },
    });
    expect(event?.data.previousObservedAt).toBeDefined();
    world.clock.advance(61_000);
    expect(await world.run()).toMatchObject({ changes: 0, delivered: 0 });
  });

  it('re-delivers with the same id when a run crashes between delivery and saving state', async () => {
    world = await startPollerWorld({ flows: flows(1) });
    await world.run();
    world.simulator.setStatus('900000000000000', 'BLOCKED');
    world.clock.advance(61_000);
    // A store that dies on the write that follows a delivery (after the check's write and the
    // delivery lease's): the run dies holding the lease, before recording the outcome.
    let writes = 0;
    const { store } = world;
    const crashing = storeWithPut(store, async (key, value, version) => {
      writes += 1;
      if (writes === 3) throw new Error('instance crashed');
      return store.put(key, value, version);
    });
    // The run survives the failed write (the flow is reported failed); state still holds the event.
    const crashed = await world.run({ store: crashing });
    expect(crashed).toMatchObject({ changes: 1, delivered: 1, failed: 1 });
    const leased = await store.get<FlowRecord>('flow/-/900000000000000');
    expect(leased?.value.deliveryLease?.until).toBe(world.clock.now() + DELIVERY_LEASE_MS);
    // While the dead run's lease lasts, a run leaves the event to it: nothing is sent.
    world.clock.advance(DELIVERY_LEASE_MS - 5_000);
    expect(await world.run({ timeoutS: 1 })).toMatchObject({ delivered: 0, pending: 1 });
    expect(world.logs).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/another run is delivering/) }),
    );
    expect(world.delivered()).toHaveLength(1);
    // The first run after it ended takes it over.
    world.clock.advance(66_000 - DELIVERY_LEASE_MS);
    const retried = await world.run();
    expect(retried.changes).toBe(0);
    const ids = world.delivered().map((event) => event.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
    world.clock.advance(61_000);
    await world.run();
    expect(world.delivered()).toHaveLength(2);
  });

  it('delivers everything, in order, once the receiver is back after several runs', async () => {
    world = await startPollerWorld({ flows: flows(2) });
    await world.run();
    world.receiver.setResponse(503);
    const script = ['THROTTLED', 'BLOCKED', 'THROTTLED', 'PUBLISHED'];
    for (const status of script) {
      world.simulator.setStatus('900000000000000', status);
      world.clock.advance(61_000);
      const summary = await world.run();
      expect(summary.delivered).toBe(0);
    }
    expect(world.delivered()).toHaveLength(0);
    world.receiver.setResponse(200);
    // Backoff after four failed attempts is minutes; later runs get there.
    for (let run = 0; run < 10 && world.delivered().length < script.length; run += 1) {
      world.clock.advance(10 * 60_000);
      await world.run();
    }
    const statuses = world.delivered().map((event) => `${event.data.previousStatus}→${event.data.status}`);
    expect(statuses).toEqual([
      'PUBLISHED→THROTTLED',
      'THROTTLED→BLOCKED',
      'BLOCKED→THROTTLED',
      'THROTTLED→PUBLISHED',
    ]);
  });

  it('announces each change once when two runs overlap', async () => {
    world = await startPollerWorld({ flows: flows(6), pollQps: 5 });
    await world.run();
    for (const flow of flows(6)) world.simulator.setStatus(flow.flowId, 'DEPRECATED');
    world.clock.advance(61_000);
    const [a, b] = await Promise.all([world.run(), world.run()]);
    expect((a?.changes ?? 0) + (b?.changes ?? 0)).toBe(6);
    const ids = world.delivered().map((event) => event.id);
    expect(new Set(ids).size).toBe(6);
  });

  it('announces each change once when two runs on two instances overlap on Tablestore', async () => {
    const { server: tablestore, open } = await startTablestoreStores('cfw-overlap');
    try {
      world = await startPollerWorld({ flows: flows(6), pollQps: 5, openStore: open });
      await world.run();
      for (const flow of flows(6)) world.simulator.setStatus(flow.flowId, 'THROTTLED');
      world.clock.advance(61_000);
      const [a, b] = await Promise.all([world.run(), world.run({ store: await open() })]);
      expect((a?.changes ?? 0) + (b?.changes ?? 0)).toBe(6);
      const ids = world.delivered().map((event) => event.id);
      expect(new Set(ids).size).toBe(6);
      expect(tablestore.calls.filter((call) => call.code === 'OTSConditionCheckFail').length).toBeGreaterThan(
        0,
      );
    } finally {
      await tablestore.close();
    }
  });

  it('loses no change and invents none under CAMS throttling and faults', async () => {
    world = await startPollerWorld({ flows: flows(8) });
    await world.run();
    world.simulator.injectFault({ kind: 'error', code: 'System.LimitControl' }, { times: 6 });
    world.simulator.injectFault(
      { kind: 'http-status', httpStatus: 503 },
      { flowId: '900000000000002', times: 20 },
    );
    world.simulator.injectFault({ kind: 'malformed' }, { flowId: '900000000000003', times: 1 });
    world.simulator.injectFault({ kind: 'reset' }, { flowId: '900000000000004', times: 2 });
    world.simulator.injectFault(
      { kind: 'ok-with-code', code: 'System.LimitControl' },
      { flowId: '900000000000005', times: 2 },
    );
    world.simulator.injectFault({ kind: 'latency', ms: 50 }, { flowId: '900000000000006', times: 3 });
    for (const flowId of ['900000000000002', '900000000000003', '900000000000004', '900000000000005']) {
      world.simulator.setStatus(flowId, 'THROTTLED');
    }
    for (let run = 0; run < 8; run += 1) {
      world.clock.advance(61_000);
      await world.run();
    }
    const changed = world.delivered().map((event) => `${event.data.flowId} ${event.data.status}`);
    expect(changed.sort()).toEqual([
      '900000000000002 THROTTLED',
      '900000000000003 THROTTLED',
      '900000000000004 THROTTLED',
      '900000000000005 THROTTLED',
    ]);
  });

  it('backs off a flow that keeps failing without holding back the others', async () => {
    world = await startPollerWorld({ flows: flows(3) });
    await world.run();
    world.simulator.injectFault({ kind: 'error', code: 'Ram.PermissionDeny' }, { flowId: '900000000000000' });
    world.simulator.setStatus('900000000000001', 'BLOCKED');
    world.clock.advance(61_000);
    const before = world.simulator.calls.length;
    const summary = await world.run();
    expect(summary).toMatchObject({ changes: 1, delivered: 1 });
    expect(summary.failed).toBeGreaterThanOrEqual(1);
    // 5 s, 10 s, 20 s … backoff: a handful of tries in a 60 s run, not one per limiter slot.
    const tries = world.simulator.calls.slice(before).filter((call) => call.flowId === '900000000000000');
    expect(tries.length).toBeLessThanOrEqual(6);
    expect(world.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', flowId: '900000000000000', code: 'Ram.PermissionDeny' }),
    );
  });

  it('waits inside a run for flows whose interval is shorter than the timer', async () => {
    world = await startPollerWorld({ flows: flows(2), intervals: 'THROTTLED=20,*=600' });
    world.simulator.setStatus('900000000000000', 'THROTTLED');
    const summary = await world.run({ timeoutS: 60 });
    // The THROTTLED flow at 0, 20 and 40 s (the save margin starts at 54 s); the other once.
    expect(summary.flowsChecked).toBe(4);
    expect(summary.durationMs).toBeLessThan(54_000);
    const checks = world.simulator.calls.filter((call) => call.flowId === '900000000000000');
    expect(checks.map((call) => call.at - (checks[0]?.at ?? 0))).toEqual([0, 20_000, 40_000]);
  });

  it('keeps 500 flows at POLL_QPS=4 within budget and deadline, checking all within 3 runs', async () => {
    world = await startPollerWorld({ flows: flows(500), pollQps: 4, intervals: '*=60' });
    const timeoutS = 60;
    const perRun: number[] = [];
    // A run checks about 230 flows, first checks first: no flow here is watched more closely
    // than the default (*=60), so none takes picks from them, and the last of 500 comes in run 3.
    for (let run = 0; run < 3; run += 1) {
      const startedAt = world.clock.now();
      const summary = await world.run({ timeoutS });
      perRun.push(summary.flowsChecked);
      expect(world.clock.now() - startedAt).toBeLessThanOrEqual(timeoutS * 1000);
      expect(summary.throttled).toBe(0);
      world.clock.advance(1000);
    }
    const checked = new Set(
      world.simulator.calls.filter((call) => call.code === 'OK').map((call) => call.flowId),
    );
    expect(checked.size).toBe(500);
    const times = world.simulator.calls.map((call) => call.at).sort((x, y) => x - y);
    let maxInWindow = 0;
    for (let i = 0, j = 0; i < times.length; i += 1) {
      while ((times[i] ?? 0) - (times[j] ?? 0) >= 1000) j += 1;
      maxInWindow = Math.max(maxInWindow, i - j + 1);
    }
    expect(maxInWindow).toBeLessThanOrEqual(4);
    expect(world.simulator.calls.filter((call) => call.code === 'System.LimitControl')).toEqual([]);
  }, 60_000);
});

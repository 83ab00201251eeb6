import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../shared/poller';
import { StateStoreError } from '../../shared/state';
import { type PollerWorld, startPollerWorld, storeWithPut } from './harness';

const flowId = '970000000000001';
const flowKey = `flow/-/${flowId}`;

/** How many times the receiver was sent each event id (verified deliveries, any answer). */
function sendsById(world: PollerWorld, since: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const delivery of world.receiver.received.slice(since)) {
    if (!delivery.verified || delivery.id === undefined) continue;
    counts.set(delivery.id, (counts.get(delivery.id) ?? 0) + 1);
  }
  return counts;
}

async function owedIds(current: PollerWorld): Promise<string[] | undefined> {
  return (await current.store.get<FlowRecord>(flowKey))?.value.outbox.map((entry) => entry.event.id);
}

/** Three changes while the receiver refused them: three events owed, all due again. */
async function threeEventsOwed(): Promise<PollerWorld> {
  world = await startPollerWorld({ flows: [{ flowId, flowName: 'f', status: 'PUBLISHED' }] });
  const current = world;
  await current.run();
  current.receiver.setResponse(503);
  for (const status of ['BLOCKED', 'THROTTLED', 'PUBLISHED']) {
    current.simulator.setStatus(flowId, status);
    current.clock.advance(61_000);
    await current.run();
  }
  expect(await owedIds(current)).toHaveLength(3);
  current.clock.advance(3600_000);
  return current;
}

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('a delivery lease renewal that fails', () => {
  it('on a store error stops the pass, which still saves what it delivered: each event is sent once', async () => {
    const current = await threeEventsOwed();
    const owed = await owedIds(current);

    // A receiver taking 10 s per event: the lease (45 s) needs renewing before the third.
    current.receiver.setResponse(() => {
      current.clock.advance(10_000);
      return { status: 200 };
    });
    let leaseOwner: string | undefined;
    let leaseUntil: number | undefined;
    let failures = 0;
    const failing = storeWithPut(current.store, async (key, value, version) => {
      const lease = (value as FlowRecord).deliveryLease;
      // Only the first renewal (same owner, a new end) fails; every other write goes through.
      if (lease && lease.owner === leaseOwner && lease.until !== leaseUntil && failures === 0) {
        failures += 1;
        throw new StateStoreError('StateUnavailable', 'cannot write state: EIO', { retryable: true });
      }
      if (lease && leaseOwner === undefined) {
        leaseOwner = lease.owner;
        leaseUntil = lease.until;
      }
      return current.store.put(key, value, version);
    });
    const before = current.receiver.received.length;
    const summary = await current.run({ store: failing });
    expect(failures).toBe(1);
    expect(summary).toMatchObject({ delivered: 3, pending: 0, failed: 0 });
    expect(Object.fromEntries(sendsById(current, before))).toEqual(
      Object.fromEntries((owed ?? []).map((id) => [id, 1])),
    );
    expect(current.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', key: flowKey, reason: 'store-error' }),
    );
    const after = (await current.store.get<FlowRecord>(flowKey))?.value;
    expect(after?.deliveryLease).toBeUndefined();
    expect(after?.outbox).toEqual([]);

    // And nothing is sent again later.
    current.clock.advance(61_000);
    await current.run();
    expect([...sendsById(current, before).values()]).toEqual([1, 1, 1]);
  });

  it('a pass whose outcomes cannot be saved leaves its flow to the next run rather than resend in this one', async () => {
    const current = await threeEventsOwed();
    const owed = await owedIds(current);
    current.receiver.setResponse(200);
    let failures = 0;
    // The pass's write of its outcomes (the first one emptying the outbox) fails once.
    const failing = storeWithPut(current.store, async (key, value, version) => {
      if (key === flowKey && (value as FlowRecord).outbox.length === 0 && failures === 0) {
        failures += 1;
        throw new StateStoreError('StateUnavailable', 'cannot write state: EIO', { retryable: true });
      }
      return current.store.put(key, value, version);
    });
    const before = current.receiver.received.length;
    const summary = await current.run({ store: failing });
    expect(failures).toBe(1);
    expect(summary).toMatchObject({ delivered: 3, failed: 1 });
    // The flow's check queued it again: the stored outbox still owes all three, yet none is resent.
    expect(Object.fromEntries(sendsById(current, before))).toEqual(
      Object.fromEntries((owed ?? []).map((id) => [id, 1])),
    );
    expect(await owedIds(current)).toEqual(owed);
  });
});

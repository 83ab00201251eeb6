import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../shared/poller';
import type { StateStore } from '../../shared/state';
import { numberedFlows, type PollerWorld, startPollerWorld, storeWithPut } from './harness';

const FLOWS = 20;
const flows = numberedFlows(FLOWS, 960000000000000);

/** Flow-record writes of one run: all of them, and those taking or renewing a delivery lease. */
interface Writes {
  flowRecords: number;
  leaseTakes: number;
}

function countingWrites(store: StateStore, writes: Writes): StateStore {
  // A check writing while a pass holds the lease carries it unchanged: only a new end is a take.
  const leaseEnds = new Map<string, number | undefined>();
  return storeWithPut(store, async (key, value, version) => {
    const written = await store.put(key, value, version);
    if (key.startsWith('flow/')) {
      writes.flowRecords += 1;
      const until = (value as FlowRecord).deliveryLease?.until;
      if (written !== undefined && until !== undefined && until !== leaseEnds.get(key))
        writes.leaseTakes += 1;
      if (written !== undefined) leaseEnds.set(key, until);
    }
    return written;
  });
}

async function countedRun(world: PollerWorld, timeoutS = 60) {
  const writes: Writes = { flowRecords: 0, leaseTakes: 0 };
  const summary = await world.run({ timeoutS, store: countingWrites(world.store, writes) });
  return { summary, writes };
}

/** Every flow changed while the receiver refused them: one event owed per flow, due again a minute later. */
async function oneEventOwedPerFlow(world: PollerWorld): Promise<void> {
  await world.run();
  world.receiver.setResponse(503);
  for (const flow of flows) world.simulator.setStatus(flow.flowId, 'BLOCKED');
  world.clock.advance(61_000);
  expect(await world.run()).toMatchObject({ changes: FLOWS, pending: FLOWS });
  world.clock.advance(61_000);
}

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('the delivery lease costs writes only when something may be sent', () => {
  it('a receiver that never answers: one flow leased to find it out, the others write only their check', async () => {
    world = await startPollerWorld({ flows, pollQps: 5 });
    await oneEventOwedPerFlow(world);
    world.receiver.setResponse(() => 'hang');
    const { summary, writes } = await countedRun(world);
    expect(summary).toMatchObject({ flowsChecked: FLOWS, delivered: 0, pending: FLOWS });
    // One pass makes first contact and times out; every other pass, at the run's start or after
    // its flow's check, finds the endpoint unreachable before leasing.
    expect(writes.leaseTakes).toBe(1);
    // A check each, and for the flow making first contact its lease, its outcome with the release,
    // and the retried writes of its check racing them (the lease's 4 writes per flow before).
    expect(writes.flowRecords).toBeGreaterThanOrEqual(FLOWS + 2);
    expect(writes.flowRecords).toBeLessThanOrEqual(FLOWS + 4);
    // What was not tried stays owed, uncharged, and leased to nobody.
    for (const item of await world.store.list<FlowRecord>('flow/')) {
      expect(item.value.deliveryLease).toBeUndefined();
      expect(item.value.outbox).toHaveLength(1);
    }
  });

  it('a healthy receiver: each flow delivering costs one lease write beside its outcome and its check', async () => {
    world = await startPollerWorld({ flows, pollQps: 5 });
    await oneEventOwedPerFlow(world);
    world.receiver.setResponse(200);
    const { summary, writes } = await countedRun(world);
    expect(summary).toMatchObject({ flowsChecked: FLOWS, delivered: FLOWS, pending: 0 });
    expect(writes.leaseTakes).toBe(FLOWS);
    // Take, outcome with release, check: 3 a flow, plus a retried write where a check and a pass
    // of the same flow wrote at once.
    expect(writes.flowRecords).toBeGreaterThanOrEqual(3 * FLOWS);
    expect(writes.flowRecords).toBeLessThanOrEqual(4 * FLOWS);
    // Nothing owed any more: the next run writes each flow's check only.
    world.clock.advance(61_000);
    const next = await countedRun(world);
    expect(next.writes).toEqual({ flowRecords: FLOWS, leaseTakes: 0 });
  });

  it('events waiting out a backoff are not leased', async () => {
    world = await startPollerWorld({ flows, pollQps: 5 });
    await oneEventOwedPerFlow(world);
    // Answered with 503 again: each event is charged and backs off 30 s; the passes after the
    // checks find nothing due.
    const { writes } = await countedRun(world);
    expect(writes.leaseTakes).toBe(FLOWS);
    // A short run ending before any event or check is due again: nothing written at all.
    world.clock.advance(10_000);
    const next = await countedRun(world, 10);
    expect(next.summary).toMatchObject({ flowsChecked: 0, delivered: 0, pending: FLOWS });
    expect(next.writes).toEqual({ flowRecords: 0, leaseTakes: 0 });
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import type { FlowRecord } from '../../shared/poller';
import { freshStateDirectory, pollerInstance, stateAt, WEBHOOK_SECRET } from './bundle-harness';
import {
  numberedFlows,
  type PollerWorld,
  startPollerWorld,
  startTablestoreStores,
  storeWithPut,
} from './harness';

const flows = (count: number) => numberedFlows(count, 910000000000000);

/** How many times the receiver was sent each event id (verified deliveries, any answer). */
function sendsById(receiver: WebhookReceiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const delivery of receiver.received) {
    if (!delivery.verified || delivery.id === undefined) continue;
    counts.set(delivery.id, (counts.get(delivery.id) ?? 0) + 1);
  }
  return counts;
}

/** Six flows changed while the receiver refused them: every event owed, all due again. */
async function owedEverywhere(world: PollerWorld): Promise<void> {
  await world.run();
  world.receiver.setResponse(503);
  for (const flow of flows(6)) world.simulator.setStatus(flow.flowId, 'BLOCKED');
  world.clock.advance(61_000);
  expect(await world.run()).toMatchObject({ changes: 6, delivered: 0, pending: 6 });
  world.receiver.setResponse(200);
  // Past the first retry delay, before the flows are due for a check again.
  world.clock.advance(10_000);
}

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('the delivery lease: overlapping runs never send one event twice', () => {
  it('two runs on one file: store, both starting with the same owed events, send each once', async () => {
    world = await startPollerWorld({ flows: flows(6), pollQps: 5 });
    await owedEverywhere(world);
    const before = world.receiver.received.length;
    const [a, b] = await Promise.all([world.run(), world.run()]);
    expect((a?.delivered ?? 0) + (b?.delivered ?? 0)).toBe(6);
    const resent = world.receiver.received.slice(before).map((delivery) => delivery.id);
    expect(resent).toHaveLength(6);
    expect(new Set(resent).size).toBe(6);
    for (const count of sendsById(world.receiver).values()) expect(count).toBe(2); // the 503, then the 200
    // Both runs released what they took: nothing is left leased or owed.
    for (const item of await world.store.list<FlowRecord>('flow/')) {
      expect(item.value.deliveryLease).toBeUndefined();
      expect(item.value.outbox).toEqual([]);
    }
  });

  it('two runs on two Tablestore clients send each owed event once', async () => {
    const { server: tablestore, open } = await startTablestoreStores('cfw-lease');
    try {
      world = await startPollerWorld({ flows: flows(6), pollQps: 5, openStore: open });
      await owedEverywhere(world);
      const before = world.receiver.received.length;
      const other = await open();
      await Promise.all([world.run(), world.run({ store: other })]);
      const resent = world.receiver.received.slice(before).map((delivery) => delivery.id);
      expect(resent).toHaveLength(6);
      expect(new Set(resent).size).toBe(6);
      expect(world.delivered()).toHaveLength(6);
    } finally {
      await tablestore.close();
    }
  });

  it('a run that dies after CAMS answered, then the tick retried twice, overlapping: one id, sent once', async () => {
    // review48's crash-before-save: every write of the dying run fails.
    world = await startPollerWorld({
      flows: [{ flowId: '930000000000011', flowName: 'f', status: 'PUBLISHED' }],
    });
    await world.run();
    world.simulator.setStatus('930000000000011', 'BLOCKED');
    world.clock.advance(61_000);
    const dying = storeWithPut(world.store, async () => {
      throw new Error('instance killed');
    });
    await world.run({ store: dying });
    expect(world.delivered()).toHaveLength(0);
    world.clock.advance(1000);
    await Promise.all([world.run(), world.run()]);
    world.clock.advance(61_000);
    await world.run();
    const ids = world.delivered().map((event) => event.id);
    expect(ids).toHaveLength(1);
    expect([...sendsById(world.receiver).values()]).toEqual([1]);
  });
});

describe('the delivery lease across FC instances', () => {
  it('two instances of the built bundle invoked at once on one file: store send each owed event once', async () => {
    const ids = ['920000000000001', '920000000000002', '920000000000003'];
    const simulator = await startCamsSimulator({ rateLimit: false });
    const receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    const instances: Array<{ restore(): void }> = [];
    try {
      for (const flowId of ids) simulator.setFlow({ flowId, flowName: `f${flowId}`, status: 'PUBLISHED' });
      const directory = freshStateDirectory();
      const instance = () => {
        const created = pollerInstance({
          CAMS_ENDPOINT: simulator.endpoint,
          WATCH_FLOWS: ids.join(','),
          WATCH_CUST_SPACES: '',
          WEBHOOK_URL: receiver.url,
          WEBHOOK_SECRET,
          STATE_URL: `file:${directory}`,
          POLL_INTERVALS: '*=60',
        });
        instances.push(created);
        return created;
      };
      const first = instance();
      const second = instance();
      expect(await first.run()).toMatchObject({ flowsChecked: 3, changes: 0 });
      receiver.setResponse(503);
      for (const flowId of ids) simulator.setStatus(flowId, 'BLOCKED');
      const state = stateAt(directory);
      const dueNow = async (field: 'lastCheckedAt' | 'nextAttemptAt') => {
        for (const item of await state.list<FlowRecord>('flow/')) {
          const record = item.value;
          if (field === 'lastCheckedAt') record.lastCheckedAt = 0;
          for (const entry of record.outbox) entry.nextAttemptAt = 0;
          await state.put(item.key, record, item.version);
        }
      };
      await dueNow('lastCheckedAt');
      expect(await first.run()).toMatchObject({ changes: 3, delivered: 0, pending: 3 });
      receiver.setResponse(200);
      await dueNow('nextAttemptAt');
      const before = receiver.received.length;
      const [a, b] = await Promise.all([first.run(), second.run()]);
      expect(Number(a.delivered) + Number(b.delivered)).toBe(3);
      const resent = receiver.received.slice(before).map((delivery) => delivery.id);
      expect(resent).toHaveLength(3);
      expect(new Set(resent).size).toBe(3);
    } finally {
      for (const created of instances) created.restore();
      await receiver.close();
      await simulator.close();
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { MAX_HISTORY } from '../../shared/poller/history';
import { goneEndpointIds } from '../../shared/poller/record-schema';
import { type FlowRecord, flowKey } from '../../shared/poller/records';
import { requeueEvent } from '../../shared/poller/redelivery';
import { type PollerWorld, startPollerWorld } from './harness';

const FLOW_ID = '910000000000001';
const HOUR = 3600_000;

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function recordOf(current: PollerWorld): Promise<FlowRecord> {
  const item = await current.store.get<FlowRecord>(flowKey(FLOW_ID, undefined));
  if (!item) throw new Error('no record');
  return item.value;
}

async function change(current: PollerWorld, status: string): Promise<void> {
  current.simulator.setStatus(FLOW_ID, status);
  // DRAFT is checked every 120 s by default.
  current.clock.advance(121_000);
  await current.run();
}

describe('poller history', () => {
  it('keeps each transition with its event id and every endpoint’s delivery outcome', async () => {
    world = await startPollerWorld({ flows: [{ flowId: FLOW_ID, flowName: 'history', status: 'DRAFT' }] });
    await world.run();
    expect((await recordOf(world)).history ?? []).toEqual([]);
    world.receiver.setResponse(503);
    await change(world, 'PUBLISHED');
    const pending = (await recordOf(world)).history ?? [];
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      type: 'flow.status_changed',
      from: 'DRAFT',
      to: 'PUBLISHED',
      flowName: 'history',
      deliveries: [{ state: 'pending', attempts: 1, lastReason: expect.stringContaining('503') }],
    });
    world.receiver.setResponse(204);
    world.clock.advance(10_000);
    await world.run();
    const [entry] = (await recordOf(world)).history ?? [];
    expect(entry?.deliveries).toEqual([
      expect.objectContaining({ state: 'delivered', attempts: 2, updatedAt: expect.any(String) }),
    ]);
    expect(world.delivered().map((event) => event.id)).toEqual([entry?.eventId]);
  });

  it('marks a dead-lettered event dead in the history', async () => {
    world = await startPollerWorld({
      flows: [{ flowId: FLOW_ID, flowName: 'history', status: 'DRAFT' }],
      webhookMaxAgeHours: 1,
    });
    await world.run();
    world.receiver.setResponse(500);
    await change(world, 'BLOCKED');
    world.clock.advance(2 * HOUR);
    await world.run();
    const record = await recordOf(world);
    expect(record.deadLetters).toHaveLength(1);
    expect(record.history?.[0]?.deliveries[0]).toMatchObject({ state: 'dead', attempts: 1 });
  });

  it(`keeps only the last ${MAX_HISTORY} transitions, oldest dropped first`, async () => {
    world = await startPollerWorld({ flows: [{ flowId: FLOW_ID, flowName: 'history', status: 'DRAFT' }] });
    await world.run();
    const statuses = ['PUBLISHED', 'THROTTLED'];
    for (let index = 0; index < MAX_HISTORY + 3; index += 1) await change(world, statuses[index % 2] ?? '');
    const history = (await recordOf(world)).history ?? [];
    expect(history).toHaveLength(MAX_HISTORY);
    expect(history.at(-1)?.to).toBe('PUBLISHED');
    expect(new Set(history.map((entry) => entry.eventId)).size).toBe(MAX_HISTORY);
  });

  it('redelivers a delivered event under its own id, rebuilt byte for byte from the history', async () => {
    world = await startPollerWorld({ flows: [{ flowId: FLOW_ID, flowName: 'history', status: 'DRAFT' }] });
    await world.run();
    await change(world, 'PUBLISHED');
    const key = flowKey(FLOW_ID, undefined);
    const stored = await world.store.get<FlowRecord>(key);
    const record = structuredClone(stored?.value as FlowRecord);
    const eventId = record.history?.[0]?.eventId ?? '';
    const result = requeueEvent(record, eventId, world.clock.now());
    expect(result).toMatchObject({ kind: 'requeued', source: 'history' });
    expect(requeueEvent(record, eventId, world.clock.now())).toMatchObject({ kind: 'already-pending' });
    expect(requeueEvent(record, 'evt_unknown', world.clock.now())).toEqual({ kind: 'not-found' });
    expect(await world.store.put(key, record, stored?.version ?? 0)).toBeDefined();
    world.clock.advance(1000);
    await world.run();
    const bodies = world.receiver.received.filter((delivery) => delivery.id === eventId).map((d) => d.body);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
    expect((await recordOf(world)).history?.[0]).toMatchObject({
      redeliveredAt: expect.any(String),
      deliveries: [expect.objectContaining({ state: 'delivered' })],
    });
  });

  it('requeues an event to no endpoint whose row says 410 Gone — whichever event the 410 came for — and again once the row is deleted', async () => {
    world = await startPollerWorld({ flows: [{ flowId: FLOW_ID, flowName: 'gone', status: 'DRAFT' }] });
    await world.run();
    await change(world, 'PUBLISHED'); // delivered
    const delivered = (await recordOf(world)).history?.[0]?.eventId ?? '';
    world.receiver.setResponse(410);
    await change(world, 'DEPRECATED'); // answered 410: the endpoint's row says gone
    const goneRows = await world.store.list('endpoint/');
    const gone = goneEndpointIds(goneRows);
    expect(gone.size).toBe(1);
    // The first event was delivered before the 410, yet it cannot go there now.
    expect(requeueEvent(await recordOf(world), delivered, world.clock.now(), gone)).toMatchObject({
      kind: 'all-gone',
    });
    // The operator fixes the receiver and deletes the row, as the 409 says: then it requeues.
    for (const row of goneRows) await world.store.delete(row.key, row.version);
    const record = await recordOf(world);
    const goneEvent = record.history?.[0]?.eventId ?? '';
    expect(
      requeueEvent(
        record,
        goneEvent,
        world.clock.now(),
        goneEndpointIds(await world.store.list('endpoint/')),
      ),
    ).toMatchObject({ kind: 'requeued' });
  });
});

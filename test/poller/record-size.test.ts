import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord, OutboxEntry } from '../../shared/poller';
import type { HistoryEntry } from '../../shared/poller/history';
import { boundFlowRecord, MAX_FLOW_RECORD_BYTES } from '../../shared/poller/record-size';
import { TABLESTORE_LIMITS } from '../../shared/state/tablestore-errors';
import { endpointId } from '../../shared/webhook';
import { type PollerWorld, startPollerWorld, startTablestoreStores } from './harness';

const FLOW = '940000000000001';
const KEY = `flow/-/${FLOW}`;
const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

function owedEntry(n: number, endpointIds: string[], reason: string, at: number): OutboxEntry {
  const observedAt = new Date(at - 1000 * (100_000 - n)).toISOString();
  return {
    event: {
      id: `evt_${n.toString(16).padStart(32, '0')}`,
      type: 'flow.status_changed',
      timestamp: observedAt,
      data: {
        flowId: FLOW,
        flowName: 'f',
        previousStatus: n % 2 ? 'THROTTLED' : 'PUBLISHED',
        status: n % 2 ? 'PUBLISHED' : 'THROTTLED',
        observedAt,
        previousObservedAt: observedAt,
      },
    },
    pendingEndpoints: [...endpointIds],
    attempts: 6,
    nextAttemptAt: at + 3600_000,
    createdAt: at - 60_000,
    lastReason: reason,
  };
}

function historyOf(entry: OutboxEntry, reason: string): HistoryEntry {
  return {
    eventId: entry.event.id,
    type: 'flow.status_changed',
    from: entry.event.data.previousStatus,
    to: entry.event.data.status ?? '',
    observedAt: entry.event.data.observedAt,
    flowName: entry.event.data.flowName,
    deliveries: entry.pendingEndpoints.map((id) => ({
      endpointId: id,
      state: 'pending',
      attempts: 6,
      lastReason: reason,
    })),
  };
}

/**
 * The largest record a flow reaches without a bound: a receiver refusing every event with a 1 KB
 * reason now and then for a day while the flow flaps (an event per check), 50 dead letters, a full
 * history.
 * Filled until just below Tablestore's 2 MB, the most that can still be stored.
 */
function grownRecord(base: FlowRecord, endpointIds: string[], at: number, limit: number): FlowRecord {
  const reason = `HTTP 503: ${'x'.repeat(1014)}`;
  const record = structuredClone(base);
  record.deadLetters = Array.from({ length: 50 }, (_, n) => owedEntry(n, endpointIds, reason, at));
  const history = Array.from({ length: 25 }, (_, n) =>
    historyOf(owedEntry(100 + n, endpointIds, reason, at), reason),
  );
  record.history = history;
  let bytes = sizeOf(record);
  for (let n = 1000; bytes < limit; n += 1) {
    const entry = owedEntry(n, endpointIds, n % 20 === 0 ? reason : 'HTTP 503', at);
    record.outbox.push(entry);
    bytes += sizeOf(entry) + 1;
    if (history.length < 50) {
      history.push(historyOf(entry, reason));
      bytes += sizeOf(history.at(-1)) + 1;
    }
  }
  record.outbox.pop();
  return record;
}

describe('boundFlowRecord', () => {
  it('leaves a record under the bound alone', () => {
    const record = grownRecord(
      { flowId: FLOW, flowName: 'f', failures: 0, outbox: [], deadLetters: [] },
      ['e1'],
      Date.now(),
      200_000,
    );
    expect(boundFlowRecord(record, 400_000)).toBeUndefined();
  });

  it('drops past history, then dead letters, then reasons, then owed history, then the oldest owed events', () => {
    const at = Date.now();
    const base: FlowRecord = { flowId: FLOW, flowName: 'f', failures: 0, outbox: [], deadLetters: [] };
    const grown = grownRecord(base, ['e1', 'e2'], at, 600_000);
    const newest = grown.outbox.at(-1)?.event.id;

    const light = structuredClone(grown);
    const lightTrim = boundFlowRecord(light, sizeOf(grown) - 20_000);
    expect(lightTrim).toMatchObject({ deadLetters: [], owedEvents: [], reasons: 0 });
    expect(lightTrim?.history).toBeGreaterThan(0);
    const owedHistory = (record: FlowRecord) =>
      (record.history ?? []).filter((entry) => record.outbox.some((owed) => owed.event.id === entry.eventId));
    expect(owedHistory(light)).toEqual(owedHistory(grown));
    expect(light.history?.length).toBe((grown.history?.length ?? 0) - (lightTrim?.history ?? 0));

    const heavy = structuredClone(grown);
    const heavyTrim = boundFlowRecord(heavy, 100_000);
    expect(heavyTrim?.deadLetters).toHaveLength(50);
    expect(heavyTrim?.owedEvents.length).toBeGreaterThan(0);
    expect(heavy.history).toEqual([]);
    expect(heavy.outbox.every((entry) => entry.lastReason === undefined)).toBe(true);
    expect(sizeOf(heavy)).toBeLessThanOrEqual(100_000);
    expect(heavyTrim?.bytes).toBe(sizeOf(heavy));
    // The oldest went: what is left is the newest, in order, nothing lost unaccounted for.
    expect(heavy.outbox.at(-1)?.event.id).toBe(newest);
    expect([...(heavyTrim?.owedEvents ?? []), ...heavy.outbox].map((entry) => entry.event.id)).toEqual(
      grown.outbox.map((entry) => entry.event.id),
    );
  });
});

let world: PollerWorld | undefined;
let closeStore: (() => Promise<void>) | undefined;
afterEach(async () => {
  await world?.close();
  await closeStore?.();
  world = undefined;
  closeStore = undefined;
});

describe('a flow record grown to the store limit', () => {
  it.each(['file', 'tablestore'] as const)(
    'keeps being saved on the %s store: changes recorded and announced, dropped events logged and counted',
    async (kind) => {
      let openStore: Parameters<typeof startPollerWorld>[0]['openStore'];
      if (kind === 'tablestore') {
        const { server, open } = await startTablestoreStores('cfw-size');
        closeStore = () => server.close();
        openStore = open;
      }
      world = await startPollerWorld({
        flows: [{ flowId: FLOW, flowName: 'f', status: 'PUBLISHED' }],
        ...(openStore ? { openStore } : {}),
      });
      await world.run();
      const stored = await world.store.get<FlowRecord>(KEY);
      if (!stored) throw new Error('no record after the baseline');
      const grown = grownRecord(
        stored.value,
        [endpointId(world.receiver.url)],
        world.clock.now(),
        TABLESTORE_LIMITS.attributeValueBytes - 4096,
      );
      expect(await world.store.put(KEY, grown, stored.version)).toBeDefined();

      world.receiver.setResponse(503);
      world.simulator.setStatus(FLOW, 'BLOCKED');
      world.clock.advance(61_000);
      const summary = await world.run();
      expect(summary).toMatchObject({ changes: 1, failed: 0 });
      const after = await world.store.get<FlowRecord>(KEY);
      expect(after?.value.status).toBe('BLOCKED');
      expect(sizeOf(after?.value)).toBeLessThanOrEqual(MAX_FLOW_RECORD_BYTES);
      // The change just found is kept, owed behind the older ones.
      expect(after?.value.outbox.at(-1)?.event.data).toMatchObject({
        previousStatus: 'PUBLISHED',
        status: 'BLOCKED',
      });
      const dropped = world.logs.filter((entry) => entry.msg.startsWith('webhook event dropped undelivered'));
      expect(summary.dropped).toBe(dropped.length);
      expect(dropped.filter((entry) => entry.wasOwed === false)).toHaveLength(50);
      expect(dropped.filter((entry) => entry.wasOwed === true).length).toBeGreaterThan(0);
      expect(world.logs).toContainEqual(
        expect.objectContaining({
          level: 'error',
          msg: expect.stringMatching(/oldest parts dropped/),
          key: KEY,
        }),
      );
      const keptAndDropped = new Set([
        ...(after?.value.outbox ?? []).map((entry) => entry.event.id),
        ...dropped.map((entry) => String(entry.eventId)),
      ]);
      for (const entry of [...grown.outbox, ...grown.deadLetters])
        expect(keptAndDropped).toContain(entry.event.id);

      // Later changes keep being recorded, each save within the bound, nothing more dropped silently.
      for (const status of ['PUBLISHED', 'BLOCKED']) {
        world.simulator.setStatus(FLOW, status);
        world.clock.advance(61_000);
        const next = await world.run();
        expect(next).toMatchObject({ changes: 1, failed: 0 });
        const saved = await world.store.get<FlowRecord>(KEY);
        expect(saved?.value.status).toBe(status);
        expect(sizeOf(saved?.value)).toBeLessThanOrEqual(MAX_FLOW_RECORD_BYTES);
      }
    },
  );
});

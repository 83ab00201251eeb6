import { afterEach, describe, expect, it } from 'vitest';
import type { ReceivedDelivery } from '../../local/webhook-receiver';
import { FLOW_PREFIX, type FlowRecord, type OutboxEntry, saveMarginMs } from '../../shared/poller';
import { numberedFlows, type PollerWorld, startPollerWorld } from './harness';

const FLOWS = 8;
const flows = numberedFlows(FLOWS, 900000000000000);

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function owed(current: PollerWorld): Promise<OutboxEntry[]> {
  const records = await current.store.list<FlowRecord>(FLOW_PREFIX);
  return records.flatMap((item) => item.value.outbox);
}

function setAll(current: PollerWorld, status: string): void {
  for (const flow of flows) current.simulator.setStatus(flow.flowId, status);
}

describe('poller with a receiver that accepts connections and never answers', () => {
  it('checks every flow in the run, keeps the events owed, and delivers each once when the receiver is back', async () => {
    const current = await startPollerWorld({ flows, intervals: '*=60,BLOCKED=30,THROTTLED=30' });
    world = current;
    expect(await current.run()).toMatchObject({ flowsChecked: FLOWS, changes: 0 });

    // Owed from an earlier run: the receiver refused (HTTP 503), each charged an attempt or two.
    current.receiver.setResponse(503);
    setAll(current, 'THROTTLED');
    current.clock.advance(61_000);
    expect(await current.run()).toMatchObject({ changes: FLOWS, delivered: 0, pending: FLOWS });
    const owedBefore = await owed(current);
    expect(owedBefore).toHaveLength(FLOWS);
    const attemptsBefore = new Map(owedBefore.map((entry) => [entry.event.id, entry.attempts]));
    for (const attempts of attemptsBefore.values()) expect(attempts).toBeGreaterThanOrEqual(1);

    current.receiver.setResponse(() => 'hang');
    setAll(current, 'BLOCKED');
    for (let run = 0; run < 2; run += 1) {
      current.clock.advance(61_000);
      const triedBefore = current.attempted.length;
      const summary = await current.run();
      // Every flow is checked although every delivery is owed to a receiver that hangs.
      expect(summary.flowsChecked).toBeGreaterThanOrEqual(FLOWS);
      expect(summary).toMatchObject({ changes: run === 0 ? FLOWS : 0, delivered: 0, pending: 2 * FLOWS });
      // One attempt waits out the timeout; no other flow tries the endpoint again in this run.
      expect(current.attempted.length - triedBefore).toBe(1);
      // The run ends before its save margin, leaving the time to save.
      expect(summary.durationMs).toBeLessThanOrEqual(60_000 - saveMarginMs(60_000));
      expect(current.logs).toContainEqual(
        expect.objectContaining({
          msg: expect.stringMatching(/^webhook endpoint gave no HTTP answer/),
          reason: 'timeout',
        }),
      );
    }
    // Nothing lost, same ids; only the events actually tried (one a run) were charged for it.
    const owedDuring = await owed(current);
    expect(owedDuring).toHaveLength(2 * FLOWS);
    const ids = new Set(owedDuring.map((entry) => entry.event.id));
    for (const entry of owedBefore) expect(ids.has(entry.event.id)).toBe(true);
    const charged = owedDuring.filter((entry) => entry.attempts > (attemptsBefore.get(entry.event.id) ?? 0));
    expect(
      charged.reduce((sum, entry) => sum + entry.attempts - (attemptsBefore.get(entry.event.id) ?? 0), 0),
    ).toBe(2);
    for (const entry of charged) expect(entry.lastReason).toBe('timeout');
    expect(owedDuring.filter((entry) => entry.attempts === 0)).toHaveLength(FLOWS);

    const answered: ReceivedDelivery[] = [];
    current.receiver.setResponse((delivery) => {
      if (delivery.verified) answered.push(delivery);
      return { status: delivery.verified ? 204 : 401 };
    });
    // A tried event is backed off up to 5 min after its third failure; the others go at once.
    for (let run = 0; run < 10 && (await owed(current)).length > 0; run += 1) {
      current.clock.advance(61_000);
      await current.run();
    }
    expect(await owed(current)).toEqual([]);
    const answeredIds = answered.map((delivery) => delivery.id);
    expect(new Set(answeredIds).size).toBe(answeredIds.length);
    expect(new Set(answeredIds)).toEqual(ids);
    const changes = answered.map((delivery) => {
      const { data } = JSON.parse(delivery.body) as { data: Record<string, string> };
      return `${data.flowId} ${data.previousStatus}→${data.status}`;
    });
    expect(new Set(changes).size).toBe(2 * FLOWS);
    for (const flow of flows) {
      const ofFlow = changes.filter((change) => change.startsWith(flow.flowId));
      expect(ofFlow).toEqual([`${flow.flowId} PUBLISHED→THROTTLED`, `${flow.flowId} THROTTLED→BLOCKED`]);
    }
  });

  it('a receiver that refuses connections is tried once per run, for one flow; the others keep their events uncharged', async () => {
    const current = await startPollerWorld({ flows });
    world = current;
    await current.run();
    await current.receiver.close();
    setAll(current, 'BLOCKED');
    current.clock.advance(61_000);
    const summary = await current.run();
    expect(summary).toMatchObject({ flowsChecked: FLOWS, changes: FLOWS, delivered: 0, pending: FLOWS });
    expect(current.attempted).toHaveLength(1);
    const entries = await owed(current);
    expect(entries.map((entry) => entry.attempts).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(entries.find((entry) => entry.attempts === 1)?.lastReason).toMatch(/^connection failed/);
  });
});

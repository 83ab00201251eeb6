import { afterEach, describe, expect, it } from 'vitest';
import { markEndpointGone, pauseEndpoint } from '../../shared/poller/endpoint-record';
import { goneEndpointIds, pausedEndpoints } from '../../shared/poller/record-schema';
import type { EndpointRecord, FlowRecord } from '../../shared/poller/records';
import { endpointId } from '../../shared/webhook';
import { numberedFlows, type PollerWorld, startPollerWorld } from './harness';

const CHANGED = 10;
/** Ten flows that change while the receiver asks for a pause, and one that changes later. */
const flows = numberedFlows(CHANGED + 1, 970000000000000);

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function endpointRows(current: PollerWorld) {
  return current.store.list<EndpointRecord>('endpoint/');
}

async function owedEntries(current: PollerWorld) {
  const records = await current.store.list<FlowRecord>('flow/');
  return records.flatMap((item) => item.value.outbox);
}

/**
 * The world after its first run, with a receiver answering every request "429, Retry-After: 600"
 * and CHANGED flows gone BLOCKED a minute later; `requests` counts what reaches the receiver.
 */
async function pausedWorld() {
  const current = await startPollerWorld({ flows, pollQps: 5 });
  world = current;
  await current.run();
  const requests: number[] = [];
  current.receiver.setResponse(() => {
    requests.push(current.clock.now());
    return { status: 429, headers: { 'retry-after': '600' } };
  });
  for (const flow of flows.slice(0, CHANGED)) current.simulator.setStatus(flow.flowId, 'BLOCKED');
  current.clock.advance(61_000);
  return { current, requests };
}

describe("a receiver's Retry-After pauses the whole endpoint", () => {
  it('in the run: no other flow is sent to it, their events stay owed and uncharged, and the pause is logged and stored', async () => {
    const { current, requests } = await pausedWorld();
    const askedAt = current.clock.now();
    const summary = await current.run();

    expect(summary).toMatchObject({ changes: CHANGED, delivered: 0, pending: CHANGED });
    expect(requests).toHaveLength(1);
    const owed = await owedEntries(current);
    expect(owed).toHaveLength(CHANGED);
    // Only the event the receiver answered is charged, with its own backoff: the endpoint's
    // pause (below), not the event, holds it back for the Retry-After.
    const charged = owed.filter((entry) => entry.attempts > 0);
    expect(charged).toHaveLength(1);
    expect(charged[0]?.nextAttemptAt).toBeLessThan(askedAt + 600_000);
    expect(owed.filter((entry) => entry.attempts === 0)).toHaveLength(CHANGED - 1);

    const [row] = await endpointRows(current);
    expect(row?.value).toMatchObject({ gone: false, httpStatus: 429 });
    const pausedUntil = row?.value.pausedUntil ?? 0;
    expect(pausedUntil - (requests[0] ?? 0)).toBe(600_000);
    expect(current.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringContaining('asked to wait (Retry-After)'),
        httpStatus: 429,
        pausedUntil: new Date(pausedUntil).toISOString(),
      }),
    );
  });

  it('across runs: nothing goes to it before the stored time, everything owed goes once it has passed', async () => {
    const { current, requests } = await pausedWorld();
    await current.run();
    expect(requests).toHaveLength(1);

    // 61 s later, inside the 600 s: a flow with nothing owed before changes, and still nothing is sent.
    current.clock.advance(61_000);
    current.simulator.setStatus(flows[CHANGED]?.flowId ?? '', 'THROTTLED');
    const inside = await current.run();
    expect(inside).toMatchObject({ changes: 1, delivered: 0, pending: CHANGED + 1 });
    expect(requests).toHaveLength(1);

    // A new instance (nothing in memory) after the pause: the receiver takes everything.
    current.receiver.setResponse(204);
    current.clock.advance(600_000);
    const after = await current.run();
    expect(after).toMatchObject({ delivered: CHANGED + 1, pending: 0 });
    expect(current.delivered()).toHaveLength(CHANGED + 1);
  });

  it('a stored pause further ahead than any Retry-After the publisher takes (1 h) pauses nothing', async () => {
    const current = await startPollerWorld({ flows: flows.slice(0, 1), pollQps: 5 });
    world = current;
    await current.run();
    const damaged: EndpointRecord = {
      gone: false,
      goneAt: '',
      httpStatus: 429,
      pausedUntil: current.clock.now() + 365 * 86_400_000,
    };
    await current.store.put(`endpoint/${endpointId(current.receiver.url)}`, damaged, 0);
    current.simulator.setStatus(flows[0]?.flowId ?? '', 'BLOCKED');
    current.clock.advance(61_000);
    expect(await current.run()).toMatchObject({ changes: 1, delivered: 1, pending: 0 });
  });
});

describe('endpoint rows', () => {
  it('a 410 replaces a pause; a pause never replaces a 410 nor shortens a longer pause', async () => {
    const current = await startPollerWorld({ flows: [] });
    world = current;
    const now = current.clock.now();
    await pauseEndpoint(current.store, 'ep1', now + 60_000, 503);
    await pauseEndpoint(current.store, 'ep1', now + 30_000, 429);
    expect(pausedEndpoints(await endpointRows(current), now)).toEqual(new Map([['ep1', now + 60_000]]));

    await markEndpointGone(current.store, 'ep1', now);
    await pauseEndpoint(current.store, 'ep1', now + 120_000, 429);
    const rows = await endpointRows(current);
    expect(rows[0]?.value).toMatchObject({ gone: true, httpStatus: 410 });
    expect(goneEndpointIds(rows)).toEqual(new Set(['ep1']));
    expect(pausedEndpoints(rows, now).size).toBe(0);
  });

  it('a pause that has passed, or a row that is no endpoint record, pauses nothing', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const row = (value: unknown) => ({ key: 'endpoint/ep1', value });
    expect(
      pausedEndpoints([row({ gone: false, goneAt: '', httpStatus: 429, pausedUntil: now })], now).size,
    ).toBe(0);
    expect(
      pausedEndpoints([row({ gone: false, goneAt: '', httpStatus: 429, pausedUntil: 'soon' })], now).size,
    ).toBe(0);
    expect(pausedEndpoints([{ ...row(undefined), unreadable: 'not JSON' }], now).size).toBe(0);
    expect(
      pausedEndpoints([row({ gone: false, goneAt: '', httpStatus: 429, pausedUntil: now + 3_600_000 })], now),
    ).toEqual(new Map([['ep1', now + 3_600_000]]));
  });
});

import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHttpHandler } from '../../functions/http/handler';
import { SIMULATOR_CREDENTIALS } from '../../local/cams-simulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { type FlowRecord, flowKey } from '../../shared/poller';
import { createStateStore } from '../../shared/state';
import { type PollerWorld, startPollerWorld } from '../poller/harness';
import {
  type Answer,
  coldStart,
  type InvokeContext,
  type InvokeRequest,
  invokeHandler,
  observed,
} from './harness';
import { undocumented } from './openapi-check';

const READ_TOKEN = 'operator-read-token';
const ADMIN_TOKEN = 'operator-admin-token';
const HOUR = 3600_000;
const DEAD_FLOW = '920000000000001';
const PENDING_FLOW = '920000000000002';
const BUSY_FLOW = '920000000000003';
const read = { authorization: `Bearer ${READ_TOKEN}` };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

let world: PollerWorld;
let stateDirectory: string;
const logs: string[] = [];

function env(extra: Record<string, string | undefined> = {}) {
  return {
    STATE_URL: `file:${stateDirectory}`,
    HTTP_API_TOKENS: READ_TOKEN,
    HTTP_ADMIN_TOKENS: `sha256:${createHash('sha256').update(ADMIN_TOKEN).digest('hex')}`,
    HTTP_AUTH: undefined,
    CAMS_CUST_SPACE_ID: undefined,
    CAMS_ENDPOINT: world.simulator.endpoint,
    ...extra,
  };
}

async function call(
  route: string,
  request: InvokeRequest,
  extraEnv: Record<string, string | undefined> = {},
  context: InvokeContext = {},
): Promise<Answer> {
  // Built from source with the poller's virtual clock: redelivery stamps the outbox entry with
  // the function's clock, and the poller judges its age with its own.
  const handler = createHttpHandler({
    env: env(extraEnv),
    clock: world.clock,
    log: (line) => logs.push(line),
  });
  const answer = await invokeHandler(handler, request, context);
  observed.add(`${route} ${request.method ?? 'GET'} ${answer.statusCode}`);
  return answer;
}

interface Item {
  [key: string]: unknown;
  eventId: string;
  deliveries: Array<Record<string, unknown>>;
}
const body = (answer: Answer) => JSON.parse(answer.body) as Record<string, unknown> & { items: Item[] };
/** GET /overview's totals, read with a read token. */
const overviewTotals = async () =>
  (
    body(await call('/overview', { path: '/overview', headers: read })) as unknown as {
      totals: Record<string, number>;
    }
  ).totals;
const errorCode = (answer: Answer) => (JSON.parse(answer.body) as { error: { code: string } }).error.code;

async function change(flowId: string, status: string): Promise<void> {
  world.simulator.setStatus(flowId, status);
  world.clock.advance(61_000);
  await world.run();
}

beforeAll(async () => {
  stateDirectory = mkdtempSync(join(tmpdir(), 'cfw-operator-'));
  world = await startPollerWorld({
    flows: [
      { flowId: DEAD_FLOW, flowName: 'dead_one', status: 'PUBLISHED' },
      { flowId: PENDING_FLOW, flowName: 'pending_one', status: 'PUBLISHED' },
      { flowId: BUSY_FLOW, flowName: 'busy_one', status: 'PUBLISHED' },
    ],
    webhookMaxAgeHours: 1,
    openStore: () => createStateStore(`file:${stateDirectory}`),
  });
  await world.run();
  // Seven delivered transitions for the busy flow.
  for (const status of [
    'THROTTLED',
    'PUBLISHED',
    'BLOCKED',
    'PUBLISHED',
    'THROTTLED',
    'PUBLISHED',
    'BLOCKED',
  ]) {
    await change(BUSY_FLOW, status);
  }
  // Two events for one flow die (the receiver fails for longer than WEBHOOK_MAX_AGE_HOURS) ...
  world.receiver.setResponse(500);
  await change(DEAD_FLOW, 'THROTTLED');
  await change(DEAD_FLOW, 'BLOCKED');
  world.clock.advance(2 * HOUR);
  await world.run();
  // ... and one is still owed.
  await change(PENDING_FLOW, 'DEPRECATED');
});

afterAll(async () => {
  await world.close();
});

describe('GET /overview', () => {
  it('lists every watched flow with its status and owed and dead deliveries, from state alone', async () => {
    const camsCalls = world.simulator.calls.length;
    const answer = await call('/overview', { path: '/overview', headers: read });
    expect(answer.statusCode).toBe(200);
    const overview = body(answer) as unknown as {
      totals: Record<string, number>;
      flows: Array<Record<string, unknown>>;
    };
    expect(overview.totals).toEqual({ flows: 3, pending: 1, dead: 2, unreadable: 0 });
    expect(overview.flows.find((flow) => flow.flowId === BUSY_FLOW)).toMatchObject({
      flowName: 'busy_one',
      status: 'BLOCKED',
      statusSince: expect.any(String),
      lastCheckedAt: expect.any(String),
      pending: 0,
      dead: 0,
    });
    expect(world.simulator.calls.length).toBe(camsCalls);
    expect((await call('/overview', { path: '/overview' })).statusCode).toBe(401);
    expect((await call('/overview', { method: 'HEAD', path: '/overview', headers: read })).body).toBe('');
  });
});

describe('GET /flows/{flowId}/history', () => {
  it('pages through the transitions newest first with an opaque cursor', async () => {
    const seen: Item[] = [];
    let cursor: string | undefined;
    for (let pageIndex = 0; pageIndex < 5; pageIndex += 1) {
      const answer = await call('/flows/{flowId}/history', {
        path: `/flows/${BUSY_FLOW}/history`,
        headers: read,
        query: { limit: '3', ...(cursor ? { cursor } : {}) },
      });
      expect(answer.statusCode).toBe(200);
      const page = body(answer);
      seen.push(...page.items);
      cursor = (page.nextCursor as string | null) ?? undefined;
      if (!cursor) break;
    }
    expect(seen.map((entry) => entry.to)).toEqual([
      'BLOCKED',
      'PUBLISHED',
      'THROTTLED',
      'PUBLISHED',
      'BLOCKED',
      'PUBLISHED',
      'THROTTLED',
    ]);
    expect(seen[6]).toMatchObject({ from: 'PUBLISHED', type: 'flow.status_changed' });
    expect(new Set(seen.map((entry) => entry.eventId)).size).toBe(7);
    expect(seen.every((entry) => entry.deliveries[0]?.state === 'delivered')).toBe(true);
  });

  it('shows a dead delivery with its attempts and reason', async () => {
    const answer = await call('/flows/{flowId}/history', {
      path: `/flows/${DEAD_FLOW}/history`,
      headers: read,
    });
    // The newer event waited behind the older one (per-endpoint order) and was never attempted.
    expect(body(answer).items[0]?.deliveries).toEqual([
      expect.objectContaining({ state: 'dead', attempts: 0 }),
    ]);
    expect(body(answer).items[1]?.deliveries).toEqual([
      expect.objectContaining({
        state: 'dead',
        attempts: expect.any(Number),
        lastReason: expect.stringContaining('500'),
      }),
    ]);
  });

  const otherFlowCursor = () =>
    Buffer.from(
      JSON.stringify({ v: 1, s: `history ${flowKey(DEAD_FLOW, undefined)}`, p: [0, 'x'] }),
    ).toString('base64url');
  it.each([
    ['limit=0', { limit: '0' }, 'InvalidParameter'],
    ['limit=51', { limit: '51' }, 'InvalidParameter'],
    ['limit=abc', { limit: 'abc' }, 'InvalidParameter'],
    ['limit repeated', { limit: '3,4' }, 'InvalidParameter'],
    ['a garbage cursor', { cursor: '%%%' }, 'InvalidCursor'],
    ['a cursor that is not JSON', { cursor: Buffer.from('not json').toString('base64url') }, 'InvalidCursor'],
    [
      'a cursor with extra keys',
      { cursor: Buffer.from('{"v":1,"s":"x","p":[1],"admin":true}').toString('base64url') },
      'InvalidCursor',
    ],
    ['a 10 kB cursor', { cursor: 'A'.repeat(10_000) }, 'InvalidCursor'],
    ['another flow’s cursor', { cursor: otherFlowCursor() }, 'InvalidCursor'],
    ['a bad custSpaceId', { custSpaceId: '../../etc' }, 'InvalidParameter'],
  ])('answers 400 for %s', async (_, query, code) => {
    const answer = await call('/flows/{flowId}/history', {
      path: `/flows/${BUSY_FLOW}/history`,
      headers: read,
      query,
    });
    expect(answer.statusCode).toBe(400);
    expect(errorCode(answer)).toBe(code);
    expect(answer.body).not.toMatch(/at .*\.js/);
  });

  it('answers 404 for a flow the poller does not watch', async () => {
    const answer = await call('/flows/{flowId}/history', { path: '/flows/999999/history', headers: read });
    expect(answer.statusCode).toBe(404);
    expect(errorCode(answer)).toBe('FlowNotWatched');
  });
});

describe('GET /deliveries', () => {
  it('lists owed and dead-lettered events across flows, paginated', async () => {
    const pending = body(
      await call('/deliveries', { path: '/deliveries', headers: read, query: { state: 'pending' } }),
    );
    expect(pending.items).toEqual([
      expect.objectContaining({
        flowId: PENDING_FLOW,
        flowName: 'pending_one',
        type: 'flow.status_changed',
        attempts: 1,
        lastReason: expect.stringContaining('500'),
        nextAttemptAt: expect.any(String),
        endpoints: [expect.any(String)],
      }),
    ]);
    const first = body(
      await call('/deliveries', { path: '/deliveries', headers: read, query: { state: 'dead', limit: '1' } }),
    );
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = body(
      await call('/deliveries', {
        path: '/deliveries',
        headers: read,
        query: { state: 'dead', limit: '1', cursor: String(first.nextCursor) },
      }),
    );
    expect(second).toMatchObject({
      nextCursor: null,
      items: [expect.objectContaining({ flowId: DEAD_FLOW, nextAttemptAt: null })],
    });
    expect(second.items[0]?.eventId).not.toBe(first.items[0]?.eventId);
    // A cursor of the dead listing does not page the pending one.
    const crossed = await call('/deliveries', {
      path: '/deliveries',
      headers: read,
      query: { state: 'pending', cursor: String(first.nextCursor) },
    });
    expect(errorCode(crossed)).toBe('InvalidCursor');
  });

  it('answers 400 for an unknown state', async () => {
    const answer = await call('/deliveries', {
      path: '/deliveries',
      headers: read,
      query: { state: 'lost' },
    });
    expect(answer.statusCode).toBe(400);
    expect(errorCode(answer)).toBe('InvalidParameter');
  });
});

describe('POST /events/{eventId}/redeliver', () => {
  const redeliver = (eventId: string, headers: Record<string, string> = admin) =>
    call('/events/{eventId}/redeliver', { method: 'POST', path: `/events/${eventId}/redeliver`, headers });
  const deadIds = async () =>
    body(
      await call('/deliveries', { path: '/deliveries', headers: read, query: { state: 'dead' } }),
    ).items.map((item) => item.eventId as string);

  it('needs an admin token: none → 401, a read token → 403', async () => {
    const [eventId = ''] = await deadIds();
    expect((await redeliver(eventId, {})).statusCode).toBe(401);
    const refused = await redeliver(eventId, read);
    expect(refused.statusCode).toBe(403);
    expect(errorCode(refused)).toBe('Forbidden');
    expect((await redeliver(eventId, { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    expect(
      (await call('/events/{eventId}/redeliver', { path: `/events/${eventId}/redeliver`, headers: admin }))
        .statusCode,
    ).toBe(405);
  });

  it('answers 404 for an unknown event and 400 for a malformed id', async () => {
    const unknown = await redeliver(`evt_${'0'.repeat(32)}`);
    expect(unknown.statusCode).toBe(404);
    expect(errorCode(unknown)).toBe('EventNotFound');
    expect((await redeliver('evt_..%2F..')).statusCode).toBe(400);
  });

  it('puts dead letters back in the outbox under the same ids, concurrently and idempotently, logging who asked', async () => {
    const ids = await deadIds();
    expect(ids).toHaveLength(2);
    logs.length = 0;
    const answers = await Promise.all(ids.map((eventId) => redeliver(eventId)));
    expect(answers.map((answer) => answer.statusCode)).toEqual([202, 202]);
    expect(body(answers[0] as Answer)).toMatchObject({
      requeued: true,
      source: 'dead-letter',
      state: 'pending',
    });
    const again = await redeliver(ids[0] ?? '');
    expect(again.statusCode).toBe(200);
    expect(body(again)).toMatchObject({ requeued: false, state: 'pending' });

    const adminDigest = createHash('sha256').update(ADMIN_TOKEN).digest('hex');
    const lines = logs.filter((line) => line.includes('"event redelivery"')).map((line) => JSON.parse(line));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ actor: `sha256:${adminDigest.slice(0, 12)}`, flowId: DEAD_FLOW });
    expect(logs.join('\n')).not.toContain(ADMIN_TOKEN);
    expect(await deadIds()).toEqual([]);

    // The next poller run delivers them, under the ids the receiver may already have seen.
    world.receiver.setResponse(204);
    world.clock.advance(1000);
    const before = world.receiver.received.length;
    await world.run();
    const received = world.receiver.received
      .slice(before)
      .filter((delivery) => delivery.verified && ids.includes(delivery.id ?? ''));
    expect(received.map((delivery) => delivery.id).sort()).toEqual([...ids].sort());
    const history = body(
      await call('/flows/{flowId}/history', { path: `/flows/${DEAD_FLOW}/history`, headers: read }),
    );
    expect(history.items.map((entry) => entry.deliveries[0]?.state)).toEqual(['delivered', 'delivered']);
    expect(history.items[0]?.redeliveredAt).toEqual(expect.any(String));
  });

  it('sends a delivered event again, byte for byte, rebuilt from the history', async () => {
    const history = body(
      await call('/flows/{flowId}/history', { path: `/flows/${BUSY_FLOW}/history`, headers: read }),
    );
    const eventId = history.items[3]?.eventId ?? '';
    const answer = await redeliver(eventId);
    expect(answer.statusCode).toBe(202);
    expect(body(answer)).toMatchObject({ source: 'history' });
    world.clock.advance(1000);
    await world.run();
    const bodies = world.receiver.received
      .filter((delivery) => delivery.id === eventId)
      .map((delivery) => delivery.body);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
  });
});

describe("an endpoint a receiver's Retry-After paused", () => {
  it('is shown paused until then by /overview, /deliveries and redelivery, and the poller sends it nothing meanwhile', async () => {
    const [owed] = body(await call('/deliveries', { path: '/deliveries', headers: read })).items;
    const endpointId = String((owed?.endpoints as string[] | undefined)?.[0]);
    const until = world.clock.now() + 10 * 60_000;
    const untilIso = new Date(until).toISOString();
    const key = `endpoint/${endpointId}`;
    await world.store.put(key, { gone: false, goneAt: '', httpStatus: 429, pausedUntil: until }, 0);
    try {
      const overview = body(await call('/overview', { path: '/overview', headers: read }));
      expect(overview.pausedEndpoints).toEqual([{ endpointId, until: untilIso }]);
      const pending = body(await call('/deliveries', { path: '/deliveries', headers: read }));
      expect(pending.items[0]).toMatchObject({ eventId: owed?.eventId, nextAttemptAt: untilIso });

      const history = body(
        await call('/flows/{flowId}/history', { path: `/flows/${BUSY_FLOW}/history`, headers: read }),
      );
      const eventId = history.items[1]?.eventId ?? '';
      const answer = await call('/events/{eventId}/redeliver', {
        method: 'POST',
        path: `/events/${eventId}/redeliver`,
        headers: admin,
      });
      expect(answer.statusCode).toBe(202);
      expect(body(answer)).toMatchObject({
        requeued: true,
        pausedEndpoints: [{ endpointId, until: untilIso }],
      });

      const requests = world.receiver.received.length;
      world.clock.advance(1000);
      expect(await world.run()).toMatchObject({ delivered: 0 });
      expect(world.receiver.received.length).toBe(requests);
    } finally {
      const row = await world.store.get(key);
      if (row) await world.store.delete(key, row.version);
    }
    expect(body(await call('/overview', { path: '/overview', headers: read })).pausedEndpoints).toEqual([]);
  });
});

describe('hostile state', () => {
  it('counts a record that fails the schema instead of failing the listing, and names it when asked for', async () => {
    const store = await createStateStore(`file:${stateDirectory}`);
    await store.put(flowKey('920000000000009', undefined), { flowId: 9, outbox: 'x' }, 0);
    expect(await overviewTotals()).toMatchObject({ flows: 3, unreadable: 1 });
    const answer = await call('/flows/{flowId}/history', {
      path: '/flows/920000000000009/history',
      headers: read,
    });
    expect(answer.statusCode).toBe(500);
    expect(errorCode(answer)).toBe('StateCorrupt');
    const stored = (await store.get<FlowRecord>(flowKey('920000000000009', undefined)))?.value;
    expect(stored).toEqual({ flowId: 9, outbox: 'x' });
    await store.delete(flowKey('920000000000009', undefined), 1);
  });

  it('pages a history stored out of time order without losing an entry (instances’ clocks, another version)', async () => {
    const flowId = '920000000000077';
    const store = await createStateStore(`file:${stateDirectory}`);
    const entry = (n: number, observedAt: string) => ({
      eventId: `evt_${String(n).padStart(32, '0')}`,
      type: 'flow.status_changed',
      from: 'PUBLISHED',
      to: 'THROTTLED',
      observedAt,
      flowName: 'clocks',
      deliveries: [],
    });
    const history = [
      entry(1, '2026-01-01T00:00:00.000Z'),
      entry(3, '2026-01-01T00:01:00.000Z'),
      entry(2, '2026-01-01T00:00:59.500Z'),
      entry(9, '2026-01-01T00:02:00.000Z'),
      entry(8, '2026-01-01T00:02:00.000Z'),
    ];
    const record = { flowId, flowName: 'clocks', failures: 0, outbox: [], deadLetters: [], history };
    await store.put(flowKey(flowId, undefined), record, 0);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pageIndex = 0; pageIndex < 10; pageIndex += 1) {
      const page = body(
        await call('/flows/{flowId}/history', {
          path: `/flows/${flowId}/history`,
          headers: read,
          query: { limit: '1', ...(cursor ? { cursor } : {}) },
        }),
      );
      seen.push(...page.items.map((item) => item.eventId.slice(-1)));
      cursor = (page.nextCursor as string | null) ?? undefined;
      if (!cursor) break;
    }
    // Newest first; the two of one millisecond by event id.
    expect(seen).toEqual(['8', '9', '3', '2', '1']);
    await store.delete(flowKey(flowId, undefined), 1);
  });

  it('pages to the end through records whose ids are 200 non-ASCII characters: every nextCursor is accepted back', async () => {
    // Within the record schema's bounds (200 characters), far beyond the poller's evt_ + 32 hex.
    const stateUrl = `file:${mkdtempSync(join(tmpdir(), 'cfw-operator-long-ids-'))}`;
    const store = await createStateStore(stateUrl);
    const custSpaceId = `c${'s'.repeat(63)}`;
    const flowId = `9${'8'.repeat(63)}`;
    const at = '2026-01-01T00:00:00.000Z';
    const eventIds = ['é', 'ü', '\u0001'].map((char) => `evt_${char.repeat(196)}`);
    await store.put(
      flowKey(flowId, custSpaceId),
      {
        flowId,
        custSpaceId,
        flowName: 'long ids',
        failures: 0,
        outbox: [],
        deadLetters: eventIds.map((id) => ({
          event: {
            id,
            type: 'flow.status_changed',
            timestamp: at,
            data: { flowId, custSpaceId, flowName: 'long ids', status: 'PUBLISHED', observedAt: at },
          },
          pendingEndpoints: ['a'],
          attempts: 8,
          nextAttemptAt: 1_600_000_000_000,
          createdAt: 1_600_000_000_000,
        })),
        history: eventIds.map((eventId) => ({
          eventId,
          type: 'flow.status_changed',
          to: 'PUBLISHED',
          observedAt: at,
          flowName: 'long ids',
          deliveries: [],
        })),
      },
      0,
    );
    const listings: Array<[string, InvokeRequest]> = [
      ['/flows/{flowId}/history', { path: `/flows/${flowId}/history`, query: { custSpaceId } }],
      ['/deliveries', { path: '/deliveries', query: { state: 'dead' } }],
    ];
    for (const [route, request] of listings) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pageIndex = 0; pageIndex < 5; pageIndex += 1) {
        const answer = await call(
          route,
          {
            ...request,
            headers: read,
            query: { ...request.query, limit: '1', ...(cursor ? { cursor } : {}) },
          },
          { STATE_URL: stateUrl },
        );
        expect(answer.statusCode).toBe(200);
        seen.push(...body(answer).items.map((item) => item.eventId));
        cursor = (body(answer).nextCursor as string | null) ?? undefined;
        if (!cursor) break;
      }
      expect(seen.sort()).toEqual([...eventIds].sort());
    }
  });

  it('counts a record kept under another flow’s key as unreadable, as the poller quarantines it: no 202 into a record nothing delivers from', async () => {
    const store = await createStateStore(`file:${stateDirectory}`);
    const original = await store.get<FlowRecord>(flowKey(DEAD_FLOW, undefined));
    const record = original?.value as FlowRecord;
    const eventId = record.history?.[0]?.eventId ?? '';
    const copyKey = flowKey('920000000000099', undefined);
    await store.put(copyKey, record, 0);
    try {
      expect(await overviewTotals()).toMatchObject({ flows: 3, unreadable: 1 });
      const history = await call('/flows/{flowId}/history', {
        path: '/flows/920000000000099/history',
        headers: read,
      });
      expect([history.statusCode, errorCode(history)]).toEqual([500, 'StateCorrupt']);
      // The event is still found in the record under its own key, and only there.
      await store.delete(flowKey(DEAD_FLOW, undefined), original?.version ?? 0);
      const redelivery = await call('/events/{eventId}/redeliver', {
        method: 'POST',
        path: `/events/${eventId}/redeliver`,
        headers: admin,
      });
      expect([redelivery.statusCode, errorCode(redelivery)]).toEqual([404, 'EventNotFound']);
      expect(redelivery.body).toContain('1 unreadable');
    } finally {
      await store.put(flowKey(DEAD_FLOW, undefined), record, 0);
      await store.delete(copyKey, 1);
    }
  });

  it('answers a record the store cannot read at all (truncated file) with the same 500 StateCorrupt', async () => {
    const key = flowKey('920000000000007', undefined);
    const file = join(stateDirectory, `${Buffer.from(key).toString('base64url')}.json`);
    writeFileSync(file, `{"key":${JSON.stringify(key)},"version":1,"value":{"flowId":"92`);
    try {
      expect((await overviewTotals()).unreadable).toBe(1);
      const answer = await call('/flows/{flowId}/history', {
        path: '/flows/920000000000007/history',
        headers: read,
      });
      expect(answer.statusCode).toBe(500);
      expect(errorCode(answer)).toBe('StateCorrupt');
    } finally {
      rmSync(file);
    }
  });

  it('answers a redelivery whose write the store fails with 503 StateUnavailable and Retry-After, not 500', async () => {
    const credentials = SIMULATOR_CREDENTIALS;
    const tablestore = await startTablestoreServer({
      instance: 'cfw-ops',
      credentials: [credentials],
      clock: world.clock,
    });
    try {
      const stateEnv = {
        STATE_URL: 'tablestore://cfw-ops/flow_state',
        TABLESTORE_ENDPOINT: tablestore.endpoint,
      };
      const key = flowKey(BUSY_FLOW, undefined);
      const record = (await (await createStateStore(`file:${stateDirectory}`)).get(key))?.value;
      const store = await createStateStore(stateEnv.STATE_URL, {
        credentials,
        env: stateEnv,
        clock: world.clock,
      });
      await store.put(key, record, 0);
      const eventId = (record as FlowRecord).history?.[0]?.eventId ?? '';
      tablestore.failNext(1, { httpStatus: 500, code: 'OTSInternalServerError' }, 'PutRow');
      const answer = await call(
        '/events/{eventId}/redeliver',
        { method: 'POST', path: `/events/${eventId}/redeliver`, headers: admin },
        stateEnv,
        { credentials },
      );
      expect(tablestore.calls.at(-1)).toEqual({ operation: 'PutRow', code: 'OTSInternalServerError' });
      expect(answer.statusCode).toBe(503);
      expect(errorCode(answer)).toBe('StateUnavailable');
      expect(JSON.parse(answer.body).error.message).toBe(
        'the state store is unavailable (OTSInternalServerError): retry in a moment; the function log has the cause under this requestId',
      );
      expect(answer.headers['retry-after']).toBe('1');
    } finally {
      await tablestore.close();
    }
  });

  it('answers a file: store it cannot use with a fixed message and the store code, its path and OS error only in the log', async () => {
    // A state "directory" that is a file: every operation fails with ENOTDIR naming the path.
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'cfw-operator-broken-')), 'not-a-dir');
    writeFileSync(notADirectory, 'x');
    const brokenEnv = { STATE_URL: `file:${notADirectory}` };
    const requests: Array<[string, InvokeRequest]> = [
      ['/overview', { path: '/overview', headers: read }],
      ['/flows/{flowId}/history', { path: `/flows/${DEAD_FLOW}/history`, headers: read }],
      ['/deliveries', { path: '/deliveries', headers: read }],
      [
        '/events/{eventId}/redeliver',
        { method: 'POST', path: `/events/evt_${'0'.repeat(32)}/redeliver`, headers: admin },
      ],
    ];
    for (const [route, request] of requests) {
      logs.length = 0;
      const answer = await call(route, request, brokenEnv);
      // A folder that cannot be made may be later (a removed mount or link target reads the same).
      expect(answer.statusCode).toBe(503);
      expect(JSON.parse(answer.body)).toEqual({
        error: {
          code: 'StateUnavailable',
          message:
            'the state store is unavailable (StateUnavailable): retry in a moment; the function log has the cause under this requestId',
          requestId: expect.any(String),
        },
      });
      const { requestId } = JSON.parse(answer.body).error;
      const detail = logs
        .map((line) => JSON.parse(line))
        .find((line) => line.errorCode === 'StateUnavailable');
      expect(detail).toMatchObject({ level: 'error', requestId });
      expect(detail.error).toContain(notADirectory);
      expect(detail.error).toContain('ENOTDIR');
    }
  });

  it('counts a record with an epoch past what a Date holds as unreadable: /overview and /deliveries still answer (built bundle)', async () => {
    const store = await createStateStore(`file:${stateDirectory}`);
    const key = flowKey('920000000000008', undefined);
    const pending = (await store.list<FlowRecord>('flow/')).flatMap((item) => item.value.outbox)[0];
    await store.put(
      key,
      {
        flowId: '920000000000008',
        flowName: 'far_future',
        failures: 0,
        lastCheckedAt: 9e15,
        outbox: [{ ...pending, createdAt: 1e300, nextAttemptAt: 9e15 }],
        deadLetters: [],
      },
      0,
    );
    // The built bundle logs each request to stdout, as on FC.
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const savedEnv = { ...process.env };
    try {
      const built = coldStart(env());
      const overview = await built.invoke({ path: '/overview', headers: read });
      expect(overview.statusCode).toBe(200);
      expect((JSON.parse(overview.body) as { totals: { unreadable: number } }).totals.unreadable).toBe(1);
      const owed = await built.invoke({ path: '/deliveries', headers: read });
      expect(owed.statusCode).toBe(200);
      expect(body(owed).items.map((item) => item.flowId)).not.toContain('920000000000008');
    } finally {
      quiet.mockRestore();
      process.env = savedEnv;
      await store.delete(key, 1);
    }
  });

  it('answers 500 naming STATE_URL when it is not a store', async () => {
    const answer = await call('/overview', { path: '/overview', headers: read }, { STATE_URL: 'redis://x' });
    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(answer.body).error.message).toMatch(/STATE_URL/);
  });
});

describe('OpenAPI description of the operator routes', () => {
  it('documents every route, method and status seen above', () => {
    expect(undocumented(observed)).toEqual([]);
  });
});

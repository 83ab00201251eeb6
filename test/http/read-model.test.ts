import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHttpHandler } from '../../functions/http/handler';
import { createPollerHandler } from '../../functions/poller/handler';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { fcContext, fcTimerEvent } from '../../local/fc-emulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { BUCKET_MS, bucketKey } from '../../shared/budget';
import { systemClock } from '../../shared/clock';
import { flowKey } from '../../shared/poller';
import { sharedCacheKey } from '../../shared/read-model';
import { createStateStore } from '../../shared/state';
import { type Answer, coldStart, freshStateUrl, invokeHandler, observed, readModelEnv } from './harness';
import { undocumented } from './openapi-check';

const TOKEN = 'read-model-token';
const WATCHED = { flowId: '810000000000001', flowName: 'watched', status: 'PUBLISHED' };
const UNWATCHED = { flowId: '810000000000002', flowName: 'unwatched', status: 'DRAFT' };
const DRAFT_WATCHED = { flowId: '810000000000004', flowName: 'draft', status: 'DRAFT' };
const SHORT_PREVIEW = {
  flowId: '810000000000003',
  flowName: 'short',
  status: 'DRAFT',
  previewUrlTtlMs: 30_000,
};
const auth = { authorization: `Bearer ${TOKEN}` };
const credentials = SIMULATOR_CREDENTIALS;
const logs: string[] = [];
/** Without the store, each of 2 instances takes (5 − 1) / 2 = 2 calls/s: two reads in a row need no wait. */
const FALLBACK = { CAMS_ACCOUNT_QPS: '5', POLL_QPS: '1', HTTP_MAX_INSTANCES: '2' };
let simulator: CamsSimulator;

const env = (stateUrl: string, extra: Record<string, string> = {}) =>
  readModelEnv(simulator.endpoint, TOKEN, stateUrl, { HTTP_MAX_AGE_SECONDS: '60', ...extra });

/** One poller run on `stateUrl` watching WATCHED, as the timer trigger would start it. */
async function pollOnce(stateUrl: string, flowId = WATCHED.flowId): Promise<void> {
  const poller = createPollerHandler({
    env: { CAMS_ENDPOINT: simulator.endpoint, WATCH_FLOWS: flowId, STATE_URL: stateUrl },
    log: () => {},
  });
  await poller(fcTimerEvent(), fcContext({ credentials, timeoutSeconds: 20 }));
}

/** Moves the poller's stored answer (its read time and next check) `byMs` into the past. */
async function shiftLastRead(stateUrl: string, key: string, byMs: number): Promise<void> {
  const store = await createStateStore(stateUrl);
  const item = await store.get(key);
  const record = item?.value as { lastRead: { readAt: number; nextCheckAt?: number } };
  record.lastRead.readAt -= byMs;
  if (record.lastRead.nextCheckAt !== undefined) record.lastRead.nextCheckAt -= byMs;
  await store.put(key, record, item?.version ?? 0);
  await store.close();
}

function camsCallsDuring<T>(work: () => Promise<T>): Promise<{ result: T; camsCalls: number }> {
  const before = simulator.calls.length;
  return work().then((result) => ({ result, camsCalls: simulator.calls.length - before }));
}

const get = (fn: ReturnType<typeof coldStart>, path: string, headers: Record<string, string> = {}) =>
  fn.invoke({ path, headers: { ...auth, ...headers } }, { credentials }).then((answer: Answer) => {
    observed.add(
      `${path.endsWith('/preview') ? '/flows/{flowId}/preview' : '/flows/{flowId}'} GET ${answer.statusCode}`,
    );
    return answer;
  });

beforeAll(async () => {
  simulator = await startCamsSimulator({
    flows: [WATCHED, UNWATCHED, SHORT_PREVIEW, DRAFT_WATCHED],
    rateLimit: false,
  });
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(String(line)));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await simulator.close();
});

describe('HTTP read model', () => {
  it('answers a watched flow from the poller’s last read, with Age and Cache-Status, and no CAMS call', async () => {
    const stateUrl = freshStateUrl();
    await pollOnce(stateUrl);
    const fn = coldStart(env(stateUrl));
    const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${WATCHED.flowId}`));
    expect(camsCalls).toBe(0);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject(WATCHED);
    // PUBLISHED is checked every 60 s: fresh until that check plus the 90 s margin.
    expect(result.headers['cache-status']).toMatch(/^cams-flow-watch; hit; ttl=(149|150); detail=watch$/);
    expect(Number(result.headers.age)).toBeLessThanOrEqual(1);
    expect(JSON.parse(logs.at(-1) ?? '{}')).toMatchObject({ source: 'watch', camsCalls: 0 });
    const again = await get(fn, `/flows/${WATCHED.flowId}`);
    expect(again.headers['cache-status']).toMatch(/detail=memory$/);
  });

  it('reads CAMS for a watched flow whose last read is older than HTTP_MAX_AGE_SECONDS and its next check, saying it was stale', async () => {
    const stateUrl = freshStateUrl();
    await pollOnce(stateUrl);
    // As if the poller had read it 10 minutes ago and stopped since (next check + margin passed).
    await shiftLastRead(stateUrl, flowKey(WATCHED.flowId, undefined), 600_000);
    const fn = coldStart(env(stateUrl, { HTTP_MAX_AGE_SECONDS: '0' }));
    const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${WATCHED.flowId}`));
    expect(camsCalls).toBe(1);
    expect(result.headers['cache-status']).toBe('cams-flow-watch; fwd=stale; fwd-status=200; stored');
    expect(result.headers.age).toBe('0');
  });

  it('serves a watched DRAFT flow (checked every 120 s by default) until the poller checks it next: 0 CAMS calls', async () => {
    const stateUrl = freshStateUrl();
    await pollOnce(stateUrl, DRAFT_WATCHED.flowId);
    const key = flowKey(DRAFT_WATCHED.flowId, undefined);
    // Read 100 s ago, older than HTTP_MAX_AGE_SECONDS (60); the next check is due in 20 s.
    await shiftLastRead(stateUrl, key, 100_000);
    const fn = coldStart(env(stateUrl));
    const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${DRAFT_WATCHED.flowId}`));
    expect(camsCalls).toBe(0);
    expect(result.headers.age).toMatch(/^10[01]$/);
    // 20 s to the next check plus the 90 s margin.
    expect(result.headers['cache-status']).toMatch(/^cams-flow-watch; hit; ttl=(109|110); detail=watch$/);

    // The poller stopped: past its next check and the margin, the answer is stale.
    await shiftLastRead(stateUrl, key, 20_000 + 90_000);
    const late = coldStart(env(stateUrl));
    expect((await camsCallsDuring(() => get(late, `/flows/${DRAFT_WATCHED.flowId}`))).camsCalls).toBe(1);
  });

  it('does not trust a stored next check past the hard cap', async () => {
    const stateUrl = freshStateUrl();
    await pollOnce(stateUrl, DRAFT_WATCHED.flowId);
    const key = flowKey(DRAFT_WATCHED.flowId, undefined);
    const store = await createStateStore(stateUrl);
    const item = await store.get(key);
    const record = item?.value as { lastRead: { readAt: number; nextCheckAt: number } };
    const now = Date.now();
    record.lastRead.readAt = now - 3 * 3600_000;
    record.lastRead.nextCheckAt = now + 24 * 3600_000;
    await store.put(key, record, item?.version ?? 0);
    const fn = coldStart(env(stateUrl));
    const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${DRAFT_WATCHED.flowId}`));
    expect(camsCalls).toBe(1);
    expect(result.headers['cache-status']).toMatch(/fwd=stale/);
  });

  it('reads CAMS when the caller sends Cache-Control: no-cache', async () => {
    const stateUrl = freshStateUrl();
    await pollOnce(stateUrl);
    const fn = coldStart(env(stateUrl));
    await get(fn, `/flows/${WATCHED.flowId}`);
    const { result, camsCalls } = await camsCallsDuring(() =>
      get(fn, `/flows/${WATCHED.flowId}`, { 'cache-control': 'no-cache' }),
    );
    expect(camsCalls).toBe(1);
    expect(result.headers['cache-status']).toMatch(/fwd=request/);
  });

  it('shares an unwatched flow read from CAMS with the next instance through the store', async () => {
    const stateUrl = freshStateUrl();
    const first = coldStart(env(stateUrl));
    const missed = await camsCallsDuring(() => get(first, `/flows/${UNWATCHED.flowId}`));
    expect(missed.camsCalls).toBe(1);
    expect(missed.result.headers['cache-status']).toBe('cams-flow-watch; fwd=miss; fwd-status=200; stored');
    const second = coldStart(env(stateUrl));
    const shared = await camsCallsDuring(() => get(second, `/flows/${UNWATCHED.flowId}`));
    expect(shared.camsCalls).toBe(0);
    expect(shared.result.headers['cache-status']).toMatch(
      /^cams-flow-watch; hit; ttl=(29|30); detail=shared$/,
    );
    expect(JSON.parse(shared.result.body)).toEqual(JSON.parse(missed.result.body));
  });

  it('redirects to a stored preview URL only while it stays valid for another minute', async () => {
    const stateUrl = freshStateUrl();
    const first = coldStart(env(stateUrl));
    await get(first, `/flows/${SHORT_PREVIEW.flowId}`);
    const second = coldStart(env(stateUrl));
    const flowRead = await camsCallsDuring(() => get(second, `/flows/${SHORT_PREVIEW.flowId}`));
    expect(flowRead.camsCalls).toBe(0);
    const previewRead = await camsCallsDuring(() => get(second, `/flows/${SHORT_PREVIEW.flowId}/preview`));
    expect(previewRead.camsCalls).toBe(1);
    expect(previewRead.result.statusCode).toBe(302);

    await pollOnce(stateUrl);
    const third = coldStart(env(stateUrl));
    const watchedPreview = await camsCallsDuring(() => get(third, `/flows/${WATCHED.flowId}/preview`));
    expect(watchedPreview.camsCalls).toBe(0);
    expect(watchedPreview.result.headers.location).toContain(WATCHED.flowId);
  });

  it.each([
    ['a record whose answer is not a flow', { lastRead: { flow: { flowId: 1 }, readAt: 'soon' } }],
    ['a record for another flow', { lastRead: { flow: { ...WATCHED, flowId: '9' }, readAt: Date.now() } }],
    ['a record read in the future', { lastRead: { flow: WATCHED, readAt: Date.now() + 3_600_000 } }],
    [
      'a record whose status is no status',
      { lastRead: { flow: { ...WATCHED, status: 'published' }, readAt: Date.now() } },
    ],
    ['a record that is not an object', 'garbage'],
  ])('treats %s as a miss, never a 500', async (_name, record) => {
    const stateUrl = freshStateUrl();
    const store = await createStateStore(stateUrl);
    await store.put(flowKey(WATCHED.flowId, undefined), record, 0);
    await store.put(sharedCacheKey(WATCHED.flowId, undefined), record, 0);
    const fn = coldStart(env(stateUrl));
    const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${WATCHED.flowId}`));
    expect(result.statusCode).toBe(200);
    expect(camsCalls).toBe(1);
    expect(JSON.parse(result.body)).toMatchObject(WATCHED);
  });

  it.each([
    ['not one line', 'ok\n# all flows DELETED', 'ok # all flows DELETED'],
    ['with a bidi mark (kept by older versions)', 'sign\u200eup', 'sign up'],
    ['kilobytes long', 'x'.repeat(10_000), `${'x'.repeat(255)}…`],
  ])(
    'serves a stored answer whose name is %s bounded, as CAMS’s own would be',
    async (_name, flowName, served) => {
      const stateUrl = freshStateUrl();
      await pollOnce(stateUrl);
      const store = await createStateStore(stateUrl);
      const key = flowKey(WATCHED.flowId, undefined);
      const item = await store.get(key);
      const record = item?.value as { lastRead: { flow: { flowName: string } } };
      record.lastRead.flow.flowName = flowName;
      await store.put(key, record, item?.version ?? 0);
      await store.close();
      const fn = coldStart(env(stateUrl));
      const { result, camsCalls } = await camsCallsDuring(() => get(fn, `/flows/${WATCHED.flowId}`));
      expect(result.statusCode).toBe(200);
      expect(camsCalls).toBe(0);
      expect(JSON.parse(result.body)).toMatchObject({ flowName: served });
    },
  );

  it('answers from CAMS when a stored entry is not even JSON', async () => {
    const stateUrl = freshStateUrl();
    const directory = stateUrl.slice('file:'.length);
    const fileOf = (key: string) => join(directory, `${Buffer.from(key).toString('base64url')}.json`);
    writeFileSync(fileOf(sharedCacheKey(UNWATCHED.flowId, undefined)), '{"key":');
    const fn = coldStart(env(stateUrl));
    const answer = await get(fn, `/flows/${UNWATCHED.flowId}`);
    expect(answer.statusCode).toBe(200);
  });

  it('keeps answering, from CAMS at its share of the account, when the state store cannot be reached, and logs it once', async () => {
    // Nothing listens on port 9: a well-formed STATE_URL whose store refuses every connection.
    const fn = coldStart(
      env('tablestore://cfw-missing/flow_state', { TABLESTORE_ENDPOINT: 'http://127.0.0.1:9', ...FALLBACK }),
    );
    logs.length = 0;
    const first = await get(fn, `/flows/${UNWATCHED.flowId}`);
    const second = await get(fn, `/flows/${UNWATCHED.flowId}`, { 'cache-control': 'no-cache' });
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(logs.filter((line) => line.includes('limits itself to 2 calls/s'))).toHaveLength(1);
  });

  it('refuses a STATE_URL the store could never open as a configuration error, on every request', async () => {
    const fn = coldStart(
      env('tablestore://cfw-missing/flow_state', { TABLESTORE_ENDPOINT: '', ...FALLBACK }),
    );
    for (const headers of [{}, { 'cache-control': 'no-cache' }]) {
      const answer = await get(fn, `/flows/${UNWATCHED.flowId}`, headers);
      expect(answer.statusCode).toBe(500);
      expect(JSON.parse(answer.body).error).toMatchObject({
        code: 'InvalidConfiguration',
        message: expect.stringMatching(/^TABLESTORE_ENDPOINT /),
      });
    }
  });

  it('shares answers through Tablestore, and keeps answering from CAMS without waiting on it once it fails', async () => {
    const tablestore = await startTablestoreServer({ instance: 'cfw-http', credentials: [credentials] });
    try {
      const tablestoreEnv = env('tablestore://cfw-http/flow_state', {
        TABLESTORE_ENDPOINT: tablestore.endpoint,
        ...FALLBACK,
      });
      const first = coldStart(tablestoreEnv);
      expect((await get(first, `/flows/${UNWATCHED.flowId}`)).headers['cache-status']).toMatch(/fwd=miss/);
      expect(tablestore.calls.some((call) => call.operation === 'UpdateRow')).toBe(true);
      const second = coldStart(tablestoreEnv);
      expect((await get(second, `/flows/${UNWATCHED.flowId}`)).headers['cache-status']).toMatch(
        /detail=shared/,
      );

      tablestore.failNext(1000, { httpStatus: 503, code: 'OTSServerUnavailable' });
      logs.length = 0;
      const answers = [];
      const storeCalls = [];
      for (const headers of [{ 'cache-control': 'no-cache' }, { 'cache-control': 'no-cache' }]) {
        const before = tablestore.calls.length;
        answers.push(await get(second, `/flows/${UNWATCHED.flowId}`, headers));
        storeCalls.push(tablestore.calls.slice(before));
      }
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      // The first failures (the budget's parallel increments, one retry each) trip the guard: the
      // answer is not shared, and neither request reads or writes an item. The budget still asks
      // the store before each call, so a store that is back sees the calls (next test).
      expect(storeCalls.flat().filter((call) => call.operation !== 'UpdateRow')).toEqual([]);
      expect(storeCalls[1]?.some((call) => call.operation === 'UpdateRow')).toBe(true);
      expect(logs.filter((line) => line.includes('limits itself to 2 calls/s'))).toHaveLength(1);
    } finally {
      await tablestore.close();
    }
  });

  it('counts its CAMS calls in the store’s budget as soon as the store answers, while reads still skip it', async () => {
    const tablestore = await startTablestoreServer({ instance: 'cfw-counted', credentials: [credentials] });
    const tablestoreEnv = { TABLESTORE_ENDPOINT: tablestore.endpoint };
    const counters = await createStateStore('tablestore://cfw-counted/flow_state', {
      credentials,
      env: tablestoreEnv,
    });
    // Calls the account's budget counted from `fromMs` on, in every bucket: what other instances sum.
    const countedSince = async (fromMs: number) =>
      (
        await counters.counters(
          bucketKey('all', Math.floor(fromMs / BUCKET_MS)),
          bucketKey('all', Number.MAX_SAFE_INTEGER),
        )
      ).reduce((sum, counter) => sum + counter.value, 0);
    // Real time, moved on by hand between requests (within the guard's 10 s), so the calls before
    // land in buckets apart from the call under test.
    let shiftMs = 0;
    const clock = {
      now: () => Date.now() + shiftMs,
      sleep: (ms: number, signal?: AbortSignal) => systemClock.sleep(ms, signal),
    };
    const handler = createHttpHandler({
      env: {
        ...env('tablestore://cfw-counted/flow_state', tablestoreEnv),
        CAMS_ACCOUNT_QPS: '50',
        POLL_QPS: '1',
        HTTP_MAX_INSTANCES: '1',
      },
      clock,
      log: () => {},
    });
    const read = async (headers: Record<string, string> = {}) => {
      const answer = await invokeHandler(
        handler,
        { path: `/flows/${UNWATCHED.flowId}`, headers: { ...auth, ...headers } },
        { credentials },
      );
      expect(answer.statusCode).toBe(200);
    };
    try {
      await read();
      expect(await countedSince(0)).toBeGreaterThanOrEqual(1);

      // The store fails this instance's call: the guard skips the store for 10 s. (That call may
      // still be counted, late, by a retry that lands once the store is back; in earlier buckets.)
      tablestore.failNext(1000, { httpStatus: 503, code: 'OTSServerUnavailable' });
      await read({ 'cache-control': 'no-cache' });
      tablestore.clearFaults();

      // The store answers again, 3 s later: within those 10 s.
      shiftMs += 3000;
      const from = clock.now();
      const before = tablestore.calls.length;
      await read();
      // Reads still skip the store ...
      expect(
        tablestore.calls.slice(before).filter((call) => ['GetRow', 'PutRow'].includes(call.operation)),
      ).toEqual([]);
      // ... yet the call is counted where the poller and every other instance see it (at once if
      // the store decided the slot, else once the budget's try is over: not awaited by the request).
      await vi.waitFor(async () => expect(await countedSince(from)).toBeGreaterThanOrEqual(1), {
        timeout: 10_000,
        interval: 20,
      });
    } finally {
      await counters.close();
      await tablestore.close();
    }
  });

  it('answers a call CAMS took over a second to answer only once its counts reached the store, as FC freezes an instance that has answered', async () => {
    const tablestore = await startTablestoreServer({ instance: 'cfw-settled', credentials: [credentials] });
    const tablestoreEnv = { TABLESTORE_ENDPOINT: tablestore.endpoint };
    const handler = createHttpHandler({
      env: {
        ...env('tablestore://cfw-settled/flow_state', tablestoreEnv),
        CAMS_ACCOUNT_QPS: '50',
        POLL_QPS: '1',
        HTTP_MAX_INSTANCES: '1',
      },
      log: () => {},
    });
    /** What the budget counted again for a call answered late, as the store holds it now. */
    const lateCounts = () =>
      tablestore
        .rows('flow_state_counters')
        .filter((row) => row.primaryKey.endsWith('/late'))
        .reduce((sum, row) => sum + Number(row.columns.get('count') ?? 0), 0);
    let arrived = () => {};
    const hasArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    simulator.injectFault(
      {
        kind: 'late-answer',
        release: new Promise((resolve) => setTimeout(resolve, 1100)),
        onArrived: () => arrived(),
      },
      { action: 'GetFlow', times: 1 },
    );
    try {
      const answering = invokeHandler(
        handler,
        { path: `/flows/${UNWATCHED.flowId}`, headers: { ...auth, 'cache-control': 'no-cache' } },
        { credentials },
      );
      // Once the call is with CAMS: its count while in flight (at 0.9 s) and its count at the
      // answer (past 1 s) each reach the store 20 ms late.
      await hasArrived;
      tablestore.failNext(2, { delayMs: 20 }, 'UpdateRow');
      const answer = await answering;
      expect(answer.statusCode).toBe(200);
      expect(lateCounts()).toBe(2);
    } finally {
      simulator.clearFaults();
      await tablestore.close();
    }
  });

  it('says once, with its real rate, that it calls CAMS on its own share when the state store cannot be opened', async () => {
    const lines: string[] = [];
    const handler = createHttpHandler({
      // No role attached: a Tablestore store cannot be opened without credentials.
      env: {
        ...env('tablestore://cfw-none/flow_state', { TABLESTORE_ENDPOINT: 'http://127.0.0.1:9' }),
        CAMS_ACCOUNT_QPS: '5',
        POLL_QPS: '4',
        HTTP_MAX_INSTANCES: '10',
      },
      log: (line) => lines.push(line),
    });
    for (let request = 0; request < 2; request += 1) {
      await invokeHandler(handler, { path: '/overview', headers: auth }, {});
    }
    const said = lines.filter((line) => line.includes('the state store cannot be opened'));
    // (CAMS_ACCOUNT_QPS − POLL_QPS) ÷ HTTP_MAX_INSTANCES, the budget's fallback for each instance.
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('CAMS calls are limited to 0.1/s per instance');
  });

  it('warns once per store outage, not on every request, and says when the store answers again', async () => {
    const tablestore = await startTablestoreServer({ instance: 'cfw-outage', credentials: [credentials] });
    // Real time, shifted by hand: the fail-fast guard skips the store for 10 s after a failure.
    let shiftMs = 0;
    const clock = {
      now: () => Date.now() + shiftMs,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
    };
    const lines: string[] = [];
    const handler = createHttpHandler({
      env: {
        ...env('tablestore://cfw-outage/flow_state', { TABLESTORE_ENDPOINT: tablestore.endpoint }),
        CAMS_ACCOUNT_QPS: '50',
        POLL_QPS: '1',
        HTTP_MAX_INSTANCES: '1',
      },
      clock,
      log: (line) => lines.push(line),
    });
    const read = async () => {
      const answer = await invokeHandler(
        handler,
        { path: `/flows/${UNWATCHED.flowId}`, headers: { ...auth, 'cache-control': 'no-cache' } },
        { credentials },
      );
      expect(answer.statusCode).toBe(200);
    };
    const readerWarnings = () =>
      lines.filter((line) => /"level":"warn"/.test(line) && /store/.test(line) && !/budget/.test(line));
    try {
      await read();
      expect(readerWarnings()).toEqual([]);

      tablestore.failNext(100_000, { httpStatus: 503, code: 'OTSServerUnavailable' });
      for (let request = 0; request < 3; request += 1) await read();
      shiftMs += 11_000; // past the guard: the store is asked again, and fails again
      for (let request = 0; request < 3; request += 1) await read();
      expect(readerWarnings()).toHaveLength(1);
      expect(readerWarnings()[0]).toContain('logged once until it answers again');

      tablestore.clearFaults();
      shiftMs += 11_000;
      await read();
      const recovered = lines.filter((line) => line.includes('the state store answers again'));
      expect(recovered).toHaveLength(1);
      expect(JSON.parse(recovered[0] ?? '{}').skippedWarnings).toBeGreaterThan(0);

      // A second outage is reported again.
      tablestore.failNext(100_000, { httpStatus: 503, code: 'OTSServerUnavailable' });
      shiftMs += 11_000;
      await read();
      await read();
      expect(readerWarnings()).toHaveLength(2);
    } finally {
      await tablestore.close();
    }
  });
});

describe('OpenAPI description', () => {
  it('documents every route, method and status the tests above saw', () => {
    expect(observed.size).toBeGreaterThan(0);
    expect(undocumented(observed)).toEqual([]);
  });
});

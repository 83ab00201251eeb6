import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startTablestoreServer, type TablestoreServer } from '../../local/tablestore-server';
import { sharedCacheKey } from '../../shared/read-model';
import { createStateStore } from '../../shared/state';
import { type Answer, coldStart, freshStateUrl, observed, readModelEnv } from './harness';
import { undocumented } from './openapi-check';

const TOKEN = 'cache-status-token';
const UNWATCHED = { flowId: '820000000000001', flowName: 'unwatched', status: 'DRAFT' };
const auth = { authorization: `Bearer ${TOKEN}` };
const credentials = SIMULATOR_CREDENTIALS;
const noCache = { 'cache-control': 'no-cache' };
let simulator: CamsSimulator;

const env = (stateUrl: string, extra: Record<string, string> = {}) =>
  readModelEnv(simulator.endpoint, TOKEN, stateUrl, extra);

async function read(fn: ReturnType<typeof coldStart>, headers: Record<string, string> = {}) {
  const before = simulator.calls.length;
  const answer: Answer = await fn.invoke(
    { path: `/flows/${UNWATCHED.flowId}`, headers: { ...auth, ...headers } },
    { credentials },
  );
  observed.add(`/flows/{flowId} GET ${answer.statusCode}`);
  expect(answer.statusCode).toBe(200);
  return { answer, camsCalls: simulator.calls.length - before };
}

async function sharedEntry(stateUrl: string): Promise<unknown> {
  const store = await createStateStore(stateUrl);
  try {
    return (await store.get(sharedCacheKey(UNWATCHED.flowId, undefined)))?.value;
  } finally {
    await store.close();
  }
}

/** A Tablestore stand-in of its own as the STATE_URL, closed after `work`. */
async function onTablestore(
  instance: string,
  work: (tablestore: TablestoreServer, tablestoreEnv: ReturnType<typeof env>) => Promise<void>,
): Promise<void> {
  const tablestore = await startTablestoreServer({ instance, credentials: [credentials] });
  try {
    await work(
      tablestore,
      env(`tablestore://${instance}/flow_state`, { TABLESTORE_ENDPOINT: tablestore.endpoint }),
    );
  } finally {
    await tablestore.close();
  }
}

const STORED = 'cams-flow-watch; fwd=miss; fwd-status=200; stored';
const NOT_STORED = 'cams-flow-watch; fwd=miss; fwd-status=200';

beforeAll(async () => {
  simulator = await startCamsSimulator({ flows: [UNWATCHED], rateLimit: false });
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await simulator.close();
});

// RFC 9211: `stored` says the cache kept the response. Here that is the shared store entry or
// this instance's memory; a caller (or an operator reading headers) must not be told an answer
// was kept when the next request asks CAMS again.
describe('Cache-Status `stored`', () => {
  it('is said when the CAMS answer was shared in the store and kept in memory', async () => {
    const stateUrl = freshStateUrl();
    const fn = coldStart(env(stateUrl));
    const first = await read(fn);
    expect(first.camsCalls).toBe(1);
    expect(first.answer.headers['cache-status']).toBe(STORED);
    expect(await sharedEntry(stateUrl)).toMatchObject({ flow: { flowId: UNWATCHED.flowId } });
    // Both stores hold it: this instance answers from memory, a new one from the shared entry.
    expect((await read(fn)).answer.headers['cache-status']).toMatch(/detail=memory$/);
    expect((await read(coldStart(env(stateUrl)))).answer.headers['cache-status']).toMatch(/detail=shared$/);
  });

  it('is not said with HTTP_CACHE_TTL_SECONDS=0: nothing is shared or kept, and each request asks CAMS', async () => {
    const stateUrl = freshStateUrl();
    const fn = coldStart(env(stateUrl, { HTTP_CACHE_TTL_SECONDS: '0' }));
    for (let request = 0; request < 2; request += 1) {
      const { answer, camsCalls } = await read(fn);
      expect(camsCalls).toBe(1);
      expect(answer.headers['cache-status']).toBe(NOT_STORED);
      expect(answer.headers['cache-control']).toBe('private, max-age=0');
    }
    expect(await sharedEntry(stateUrl)).toBeUndefined();
  });

  it('is not said when the store refuses the share and memory keeps nothing (no-cache), but is when memory keeps it', async () => {
    await onTablestore('cfw-stored', async (tablestore, tablestoreEnv) => {
      // Enough failures for the write and its retry; reads and the budget's counters still answer.
      tablestore.failNext(5, { httpStatus: 503, code: 'OTSServerUnavailable' }, 'PutRow');
      const refused = await read(coldStart(tablestoreEnv), noCache);
      expect(refused.camsCalls).toBe(1);
      expect(refused.answer.headers['cache-status']).toBe('cams-flow-watch; fwd=request; fwd-status=200');
      expect(tablestore.rows('flow_state')).toEqual([]);

      // The same refusal on a plain read: the share fails, but this instance keeps the answer.
      const instance = coldStart(tablestoreEnv);
      const kept = await read(instance);
      expect(kept.answer.headers['cache-status']).toBe(STORED);
      expect(tablestore.rows('flow_state')).toEqual([]);
      expect((await read(instance)).answer.headers['cache-status']).toMatch(/detail=memory$/);
      tablestore.clearFaults();
    });
  });

  it('is not said when another instance’s write wins the race for the shared entry (no-cache)', async () => {
    await onTablestore('cfw-race', async (tablestore, tablestoreEnv) => {
      // Tablestore's answer to a conditional write whose expected version another writer changed.
      tablestore.failNext(1, { httpStatus: 403, code: 'OTSConditionCheckFail' }, 'PutRow');
      const lost = await read(coldStart(tablestoreEnv), noCache);
      expect(lost.answer.headers['cache-status']).toBe('cams-flow-watch; fwd=request; fwd-status=200');
      // Once the store takes the write again, the answer is stored.
      const won = await read(coldStart(tablestoreEnv), noCache);
      expect(won.answer.headers['cache-status']).toBe('cams-flow-watch; fwd=request; fwd-status=200; stored');
    });
  });
});

describe('OpenAPI description', () => {
  it('documents every route, method and status the tests above saw', () => {
    expect(observed.size).toBeGreaterThan(0);
    expect(undocumented(observed)).toEqual([]);
  });
});

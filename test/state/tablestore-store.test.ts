import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTablestoreServer, type TablestoreServer } from '../../local/tablestore-server';
import { otsStringToSign } from '../../local/tablestore-server/ots-signature';
import type { Credentials } from '../../shared/cams/types';
import { createStateStore, type StateStore, StateStoreError } from '../../shared/state';
import { parseTablestoreUrl, TablestoreStateStore } from '../../shared/state/tablestore';
import { TablestoreWireStore } from '../../shared/state/tablestore-client';
import { TABLESTORE_ROLE } from '../support/tablestore-role';
import { describeStateStoreContract } from './store-contract';

const ROLE = TABLESTORE_ROLE;
const INSTANCE = 'cfw-test';

let server: TablestoreServer;
let tableNumber = 0;
const freshTable = () => `flow_state_${++tableNumber}`;

type Options = { credentials: Credentials; maxRetries?: number };
type Implementation = (location: ReturnType<typeof parseTablestoreUrl>, options: Options) => StateStore;

/** Both Tablestore clients run every test below against the same wire-protocol server. */
const IMPLEMENTATIONS: ReadonlyArray<readonly [string, Implementation]> = [
  ['our own client', (location, options) => new TablestoreWireStore({ ...location, ...options })],
  ['official SDK', (location, options) => new TablestoreStateStore({ ...location, ...options })],
];

beforeAll(async () => {
  server = await startTablestoreServer({ instance: INSTANCE, credentials: [ROLE] });
});
afterAll(() => server.close());

describe.each(IMPLEMENTATIONS)('tablestore store (%s)', (name, implementation) => {
  async function open(table = freshTable(), credentials: Credentials = ROLE, maxRetries?: number) {
    const location = parseTablestoreUrl(`tablestore://${INSTANCE}/${table}`, {
      TABLESTORE_ENDPOINT: server.endpoint,
    });
    return implementation(location, maxRetries === undefined ? { credentials } : { credentials, maxRetries });
  }

  const tablesOf = new WeakMap<StateStore, string>();
  describeStateStoreContract(
    `tablestore store (${name}, loopback wire protocol)`,
    async () => {
      const table = freshTable();
      const store = await open(table);
      tablesOf.set(store, table);
      return store;
    },
    async (store, key, damage) => {
      const table = tablesOf.get(store) ?? '';
      await store.get('-');
      server.plantRow(table, {
        primaryKey: key,
        columns: new Map<string, string | bigint>(
          damage === 'value not JSON'
            ? [
                ['value', '{"status":"PUBL'],
                ['version', 1n],
              ]
            : [
                ['value', '1'],
                ['version', 'one'],
              ],
        ),
      });
    },
  );

  it('creates its table on first use, then stores value and version as columns', async () => {
    const table = freshTable();
    const store = await open(table);
    expect(await store.put('flow/-/1', { status: 'DRAFT' }, 0)).toBe(1);
    const calls = server.calls.map((call) => `${call.operation}:${call.code}`);
    // Ours skips DescribeTable: it creates the table only once a call finds it missing.
    const first = name === 'our own client' ? 'PutRow' : 'DescribeTable';
    expect(calls.slice(-3)).toEqual([`${first}:OTSObjectNotExist`, 'CreateTable:OK', 'PutRow:OK']);
    const [row] = server.rows(table);
    expect(row?.primaryKey).toBe('flow/-/1');
    expect(row?.columns.get('value')).toBe('{"status":"DRAFT"}');
    expect(row?.columns.get('version')).toBe(1n);
  });

  it('counts with UpdateRow INCREMENT in a counter table whose rows expire after a day', async () => {
    const table = freshTable();
    const store = await open(table);
    expect(await store.increment('budget/all/17', 1)).toBe(1);
    expect(server.calls.at(-1)).toEqual({ operation: 'UpdateRow', code: 'OK' });
    expect(server.timeToLive(`${table}_counters`)).toBe(86_400);
    expect(server.rows(`${table}_counters`)[0]?.columns.get('count')).toBe(1n);
    expect(server.rows(table)).toEqual([]);
  });

  it('checks the table once per warm instance, not on every run', async () => {
    const table = freshTable();
    await (await open(table)).put('a', 1, 0);
    const before = server.calls.length;
    const nextRun = await open(table);
    await nextRun.get('a');
    expect(server.calls.slice(before).map((call) => call.operation)).toEqual(['GetRow']);
  });

  it('recreates a table deleted under a warm instance on the next run', async () => {
    const table = freshTable();
    const store = await open(table);
    await store.put('a', 1, 0);
    server.dropTable(table);
    if (name === 'our own client') {
      // Ours recreates it as soon as a call finds it missing, within the same run.
      expect(await store.get('a')).toBeUndefined();
      expect(server.calls.slice(-3).map((call) => `${call.operation}:${call.code}`)).toEqual([
        'GetRow:OTSObjectNotExist',
        'CreateTable:OK',
        'GetRow:OK',
      ]);
      server.dropTable(table);
    } else {
      await expect(store.get('a')).rejects.toMatchObject({ code: 'OTSObjectNotExist' });
    }
    const nextRun = await open(table);
    expect(await nextRun.get('a')).toBeUndefined();
    expect(await nextRun.put('a', 2, 0)).toBe(1);
  });

  it('turns a failed write condition into a conflict, through the SDK and the server’s condition check', async () => {
    const store = await open();
    await store.put('k', 'v1', 0);
    expect(await store.put('k', 'other', 0)).toBeUndefined();
    expect(await store.put('k', 'stale', 7)).toBeUndefined();
    expect(server.calls.at(-1)?.code).toBe('OTSConditionCheckFail');
  });

  it('lets only one of two overlapping stores (two runs) claim a version', async () => {
    const table = freshTable();
    const first = await open(table);
    const second = await open(table);
    await first.put('flow/-/9', { status: 'PUBLISHED' }, 0);
    const results = await Promise.all([
      first.put('flow/-/9', { status: 'THROTTLED', by: 'first' }, 1),
      second.put('flow/-/9', { status: 'THROTTLED', by: 'second' }, 1),
    ]);
    expect(results.filter((result) => result === 2)).toHaveLength(1);
    expect(results.filter((result) => result === undefined)).toHaveLength(1);
  });

  it('signs with the STS token: a wrong secret or token is refused with advice naming the RAM policy', async () => {
    const table = freshTable();
    await (await open(table)).put('x', 1, 0);
    for (const credentials of [
      { ...ROLE, accessKeySecret: 'wrong-secret' },
      { ...ROLE, securityToken: 'expired-token' },
    ]) {
      const store = await open(table, credentials);
      const failure = await store.get('x').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StateStoreError);
      expect((failure as StateStoreError).code).toBe('OTSAuthFailed');
      expect((failure as StateStoreError).retryable).toBe(false);
      expect((failure as Error).message).toMatch(/ots:GetRow.*ram-policy\.json/);
      expect((failure as Error).message).not.toContain(credentials.accessKeySecret);
      expect((failure as Error).message).not.toContain(String(credentials.securityToken));
    }
  });

  it('reports server faults as retryable StateStoreErrors after the SDK’s own retries', async () => {
    const store = await open(freshTable(), ROLE, 1);
    await store.put('y', 1, 0);
    server.failNext(2, { httpStatus: 503, code: 'OTSServerUnavailable' }, 'GetRow');
    const failure = (await store.get('y').catch((error: unknown) => error)) as StateStoreError;
    expect(failure.code).toBe('OTSServerUnavailable');
    expect(failure.retryable).toBe(true);
    server.failNext(1, { httpStatus: 503, code: 'OTSServerUnavailable' }, 'GetRow');
    expect((await store.get('y'))?.value).toBe(1);
  });
});

describe('tablestore STATE_URL', () => {
  it('opens our own client, and needs credentials and a well-formed STATE_URL and endpoint', async () => {
    const store = await createStateStore(`tablestore://${INSTANCE}/${freshTable()}`, {
      credentials: ROLE,
      env: { TABLESTORE_ENDPOINT: server.endpoint },
    });
    expect(store).toBeInstanceOf(TablestoreWireStore);
    await expect(
      createStateStore(`tablestore://${INSTANCE}/t`, { env: { TABLESTORE_ENDPOINT: server.endpoint } }),
    ).rejects.toMatchObject({ code: 'MissingCredentials' });
    await expect(
      createStateStore(`tablestore://${INSTANCE}/bad-table-name`, {
        credentials: ROLE,
        env: { TABLESTORE_ENDPOINT: server.endpoint },
      }),
    ).rejects.toMatchObject({ code: 'InvalidConfiguration' });
    await expect(
      createStateStore(`tablestore://${INSTANCE}/t`, { credentials: ROLE, env: {} }),
    ).rejects.toThrow(/TABLESTORE_ENDPOINT/);
    expect(
      parseTablestoreUrl('tablestore://cfw-prod/flow_state', { FC_REGION: 'ap-southeast-1' }).endpoint,
    ).toBe('https://cfw-prod.ap-southeast-1.ots.aliyuncs.com');
  });

  it.each([
    ['a port out of range', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com:99999'],
    ['port 0', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com:0'],
    ['a bracketed non-address', 'https://[cfw-prod]'],
    ['user and password', 'https://ops:hunter2@cfw-prod.ap-southeast-1.ots.aliyuncs.com'],
    ['a user alone', 'https://hunter2@cfw-prod.ap-southeast-1.ots.aliyuncs.com'],
    ['a query', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com?hunter2'],
    ['a fragment', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com#hunter2'],
    ['a path', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com/hunter2'],
    ['another scheme', 'ftp://cfw-prod.ap-southeast-1.ots.aliyuncs.com'],
    ['no scheme', 'cfw-prod.ap-southeast-1.ots.aliyuncs.com'],
  ])('refuses a TABLESTORE_ENDPOINT with %s, naming it without its value', (_, endpoint) => {
    let failure: unknown;
    try {
      parseTablestoreUrl('tablestore://cfw-prod/flow_state', { TABLESTORE_ENDPOINT: endpoint });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StateStoreError);
    expect(failure).toMatchObject({
      code: 'InvalidConfiguration',
      variable: 'TABLESTORE_ENDPOINT',
      message: expect.stringMatching(/^TABLESTORE_ENDPOINT /),
    });
    expect(JSON.stringify({ ...(failure as object), message: (failure as Error).message })).not.toContain(
      'hunter2',
    );
  });

  it.each([
    ['https://cfw-prod.ap-southeast-1.ots.aliyuncs.com/', 'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com'],
    [
      'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com:443',
      'https://cfw-prod.ap-southeast-1.ots.aliyuncs.com',
    ],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://[::1]:8080/', 'http://[::1]:8080'],
  ])('takes the origin of TABLESTORE_ENDPOINT %s', (endpoint, origin) => {
    expect(
      parseTablestoreUrl('tablestore://cfw-prod/flow_state', { TABLESTORE_ENDPOINT: endpoint }).endpoint,
    ).toBe(origin);
  });
});

describe('tablestore server signature check', () => {
  it('canonicalises x-ots headers as the service documents', () => {
    expect(
      otsStringToSign('/GetRow', 'POST', {
        'x-ots-date': '2026-11-25T00:00:00.000Z',
        'X-OTS-APIVersion': '2015-12-31',
        'x-ots-signature': 'ignored',
        host: 'ignored',
      }),
    ).toBe('/GetRow\nPOST\n\nx-ots-apiversion:2015-12-31\nx-ots-date:2026-11-25T00:00:00.000Z\n');
  });
});

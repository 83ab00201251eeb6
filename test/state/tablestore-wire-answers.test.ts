import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTablestoreServer, type TablestoreServer } from '../../local/tablestore-server';
import { encodePrimaryKey, encodeRows, messages } from '../../local/tablestore-server/wire';
import { StateStoreError } from '../../shared/state';
import { TablestoreStateStore } from '../../shared/state/tablestore';
import { TablestoreWireStore } from '../../shared/state/tablestore-client';
import { TABLESTORE_ROLE } from '../support/tablestore-role';
import { VirtualClock } from '../support/virtual-clock';

const INSTANCE = 'cfw-answers';
const REQUEST_ID = '0006a1b2-c3d4-e5f6-0708-090a0b0c0d0e';

/** What a peer at TABLESTORE_ENDPOINT answers to one request: its status, headers and body. */
type Answer = { status?: number; headers?: Record<string, string>; body?: Uint8Array };

let peer: Server | undefined;
afterEach(async () => {
  peer?.closeAllConnections();
  await new Promise<void>((resolve) => (peer ? peer.close(() => resolve()) : resolve()));
  peer = undefined;
});

/** A loopback peer answering each request with `reply(operation, request body)`. */
async function servePeer(reply: (operation: string, body: Buffer) => Answer): Promise<string> {
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = reply((request.url ?? '').slice(1), Buffer.concat(chunks));
      response.writeHead(answer.status ?? 200, answer.headers ?? {});
      response.end(Buffer.from(answer.body ?? new Uint8Array()));
    });
  });
  peer = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An answer signed as Tablestore signs its own: body MD5 and request id. */
function asTablestore(body: Uint8Array, status = 200): Answer {
  return {
    status,
    body,
    headers: {
      'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
      'x-ots-requestid': REQUEST_ID,
    },
  };
}

function rangePage(rowKeys: readonly string[], nextKey?: string): Uint8Array {
  const rows = rowKeys.map((key) => ({
    primaryKey: key,
    columns: new Map<string, string | bigint>([
      ['value', '1'],
      ['version', 1n],
      ['count', 1n],
    ]),
  }));
  return (
    messages.GetRangeResponse?.encode({
      consumed: { capacityUnit: { read: 1 } },
      rows: rows.length > 0 ? encodeRows(rows, 'key') : new Uint8Array(),
      ...(nextKey === undefined ? {} : { nextStartPrimaryKey: encodePrimaryKey(nextKey, 'key') }),
    }).finish() ?? new Uint8Array()
  );
}

const storeAt = (endpoint: string, table = 'state') =>
  new TablestoreWireStore({
    instance: INSTANCE,
    table,
    endpoint,
    credentials: TABLESTORE_ROLE,
    maxRetries: 0,
  });

describe('tablestore store (our own client): range pages', () => {
  it.each([
    ['list', (store: TablestoreWireStore) => store.list('flow/'), 'flow/'],
    [
      'counters',
      (store: TablestoreWireStore) => store.counters('budget/all/0010', 'budget/all/0020'),
      'budget/all/0010',
    ],
  ])('%s refuses an empty page whose next key is its own start, after one call', async (_, read, start) => {
    let ranges = 0;
    const endpoint = await servePeer(() => {
      ranges += 1;
      return asTablestore(rangePage([], start));
    });
    const failure = await read(storeAt(endpoint)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StateStoreError);
    expect(failure).toMatchObject({ code: 'InvalidResponse', retryable: false });
    expect((failure as Error).message).toContain(`not past the page's start "${start}": no progress`);
    expect(ranges).toBe(1);
  });

  it('refuses a next key that goes back before the rows already read', async () => {
    let page = 0;
    const endpoint = await servePeer(() => {
      page += 1;
      return asTablestore(page === 1 ? rangePage(['flow/a', 'flow/c'], 'flow/b') : rangePage([]));
    });
    await expect(storeAt(endpoint).list('flow/')).rejects.toThrow(/"flow\/b" not past the page's start/);
    expect(page).toBe(1);
  });

  it('refuses a next key outside the range read', async () => {
    const endpoint = await servePeer(() => asTablestore(rangePage([], 'flox')));
    await expect(storeAt(endpoint).list('flow/')).rejects.toThrow(/"flox" outside the range read/);
  });

  it('follows empty pages that make progress, as Tablestore sends when a scan reaches its budget', async () => {
    const starts: string[] = [];
    const endpoint = await servePeer((_, body) => {
      const page = starts.length;
      starts.push(body.includes('flow/b') ? 'flow/b' : 'flow/');
      return asTablestore(page === 0 ? rangePage([], 'flow/b') : rangePage(['flow/b']));
    });
    expect(await storeAt(endpoint).list('flow/')).toEqual([{ key: 'flow/b', value: 1, version: 1 }]);
    expect(starts).toEqual(['flow/', 'flow/b']);
  });

  it('gives up on a range still going after 1000 pages', async () => {
    let ranges = 0;
    const endpoint = await servePeer(() => {
      ranges += 1;
      return asTablestore(rangePage([], `flow/${String(ranges).padStart(6, '0')}`));
    });
    await expect(storeAt(endpoint).list('flow/')).rejects.toThrow(/more than 1000 pages for one range/);
    expect(ranges).toBe(1000);
  });
});

describe('tablestore store (our own client): an endpoint that is not Tablestore', () => {
  const html = (): Answer => ({
    headers: { 'content-type': 'text/html' },
    body: Buffer.from('<html><body>OK</body></html>'),
  });
  const cases: Array<[string, () => Answer]> = [
    ['an HTML page', html],
    ['an empty 200', () => ({})],
    [
      'a body with a matching MD5 but no request id',
      () => ({
        ...asTablestore(new Uint8Array()),
        headers: { 'x-ots-contentmd5': '1B2M2Y8AsgTpgAmY7PhCfg==' },
      }),
    ],
  ];
  it.each(cases)('refuses %s for every operation, naming TABLESTORE_ENDPOINT', async (_, answer) => {
    const endpoint = await servePeer(answer);
    const store = storeAt(endpoint);
    const calls = [
      store.get('flow/-/1'),
      store.list('flow/'),
      store.put('flow/-/1', { status: 'PUBLISHED' }, 0),
      store.put('flow/-/1', { status: 'PUBLISHED' }, 7),
      store.delete('flow/-/1', 3),
      store.increment('budget/all/1', 1),
      store.counters('a', 'b'),
    ];
    for (const call of calls) {
      const failure = await call.catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StateStoreError);
      expect(failure).toMatchObject({
        code: 'NotTablestore',
        retryable: false,
        variable: 'TABLESTORE_ENDPOINT',
      });
      expect((failure as Error).message).toMatch(
        /without Tablestore's x-ots-contentmd5 and x-ots-requestid .* set TABLESTORE_ENDPOINT/,
      );
    }
  });

  it('keeps an error answer without a request id an error of its HTTP status, not of its body', async () => {
    const endpoint = await servePeer(() => ({
      status: 503,
      body: messages.Error?.encode({ code: 'OTSConditionCheckFail' }).finish() ?? new Uint8Array(),
    }));
    await expect(storeAt(endpoint).delete('flow/-/1', 1)).rejects.toMatchObject({
      code: 'HTTP503',
      retryable: true,
      requestId: undefined,
    });
  });
});

describe('tablestore store (our own client) against the stand-in', () => {
  let server: TablestoreServer;
  let tableNumber = 0;
  const clock = new VirtualClock(Date.now());
  const store = (options: { maxRetries?: number } = {}) =>
    new TablestoreWireStore({
      instance: INSTANCE,
      table: `answers_${++tableNumber}`,
      endpoint: server.endpoint,
      credentials: TABLESTORE_ROLE,
      clock,
      ...options,
    });

  beforeAll(async () => {
    server = await startTablestoreServer({ instance: INSTANCE, credentials: [TABLESTORE_ROLE] });
  });
  afterEach(() => server.clearFaults());
  afterAll(() => server.close());

  it("carries Tablestore's request id on the error and in its message", async () => {
    const subject = store({ maxRetries: 0 });
    await subject.put('k', 1, 0);
    server.failNext(1, { httpStatus: 503, code: 'OTSServerBusy' }, 'GetRow');
    const failure = (await subject.get('k').catch((error: unknown) => error)) as StateStoreError;
    expect(failure).toMatchObject({ code: 'OTSServerBusy', retryable: true });
    expect(failure.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(failure.message).toContain(`(Tablestore request id ${failure.requestId})`);
  });

  it('gives up at once on a table quota used up: one CreateTable, not retryable, says to free a table or raise the quota', async () => {
    server.failNext(
      100,
      { httpStatus: 403, code: 'OTSQuotaExhausted', message: 'Number of tables exceeded the quota.' },
      'CreateTable',
    );
    const startedAt = clock.now();
    const before = server.calls.length;
    const failure = (await store()
      .increment('budget/all/1', 1)
      .catch((error: unknown) => error)) as StateStoreError;
    expect(failure).toMatchObject({ code: 'OTSQuotaExhausted', retryable: false });
    expect(failure.message).toMatch(/64 per instance .* delete tables .* higher table quota/);
    expect(failure.message).not.toMatch(/unavailable/);
    expect(server.calls.slice(before).filter((call) => call.operation === 'CreateTable')).toHaveLength(1);
    expect(clock.now()).toBe(startedAt);
  });

  it('retries table operations that were only too frequent, as the official SDKs do', async () => {
    server.failNext(
      1,
      { httpStatus: 403, code: 'OTSQuotaExhausted', message: 'Too frequent table operations.' },
      'CreateTable',
    );
    const before = server.calls.length;
    expect(await store().increment('budget/all/1', 1)).toBe(1);
    expect(server.calls.slice(before).map((call) => `${call.operation} ${call.code}`)).toEqual([
      'UpdateRow OTSObjectNotExist',
      'CreateTable OTSQuotaExhausted',
      'CreateTable OK',
      'UpdateRow OK',
    ]);
  });

  it.each([
    [
      'a value above 2 MB',
      () => store().put('big', 'x'.repeat(2 * 1024 * 1024), 0),
      'ValueTooLarge',
      /2097154 bytes of JSON, above Tablestore's limit of 2097152 bytes/,
    ],
    [
      'a key above 1 KB',
      () => store().put(`flow/${'k'.repeat(1020)}`, 1, 0),
      'KeyTooLong',
      /1025 bytes, above Tablestore's limit of 1024 bytes/,
    ],
    ['reading a key above 1 KB', () => store().get(`flow/${'k'.repeat(1020)}`), 'KeyTooLong', /1025 bytes/],
  ])('refuses %s before sending it', async (_, call, code, message) => {
    const before = server.calls.length;
    const failure = await call().catch((error: unknown) => error);
    expect(failure).toMatchObject({ code, retryable: false });
    expect((failure as Error).message).toMatch(message);
    expect(server.calls.length).toBe(before);
  });

  it('names the sizes when Tablestore refuses a value as too long', async () => {
    server.failNext(
      1,
      {
        httpStatus: 400,
        code: 'OTSParameterInvalid',
        message:
          "The length of attribute column: 'value' exceeded the MaxLength:2097152 with Current Length:3145728.",
      },
      'PutRow',
    );
    const failure = await store({ maxRetries: 0 })
      .put('k', 1, 0)
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'OTSParameterInvalid', retryable: false });
    expect((failure as Error).message).toMatch(
      /OTSParameterInvalid — a value of 3145728 bytes is above Tablestore's limit of 2097152 bytes/,
    );
  });
});

describe('tablestore stand-in: size limits as the service enforces them', () => {
  let server: TablestoreServer;
  let tableNumber = 0;
  // The official SDK checks no sizes, so it sends what our client refuses before sending.
  const sdkStore = () =>
    new TablestoreStateStore({
      instance: INSTANCE,
      table: `limits_${++tableNumber}`,
      endpoint: server.endpoint,
      credentials: TABLESTORE_ROLE,
      maxRetries: 0,
    });

  beforeAll(async () => {
    server = await startTablestoreServer({ instance: INSTANCE, credentials: [TABLESTORE_ROLE] });
  });
  afterAll(() => server.close());

  it.each([
    [
      'a 3 MB attribute value',
      () => 'x'.repeat(3 * 1024 * 1024),
      'k',
      'OTSParameterInvalid',
      /a value of 3145730 bytes is above Tablestore's limit of 2097152 bytes/,
    ],
    [
      'a 5 MB PutRow',
      () => 'x'.repeat(5 * 1024 * 1024),
      'k',
      'OTSRequestBodyTooLarge',
      /larger than Tablestore takes \(4194304 bytes per PutRow or UpdateRow\)/,
    ],
    [
      'a 2 KB primary key',
      () => 1,
      `flow/${'k'.repeat(2048)}`,
      'OTSParameterInvalid',
      /a key of 2053 bytes is above Tablestore's limit of 1024 bytes/,
    ],
  ])("refuses %s with the service's code", async (_, value, key, code, message) => {
    const store = sdkStore();
    await store.get('warm-up');
    const failure = await store.put(key, value(), 0).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code, retryable: false });
    expect((failure as Error).message).toMatch(message);
    expect(server.calls.at(-1)).toEqual({ operation: 'PutRow', code });
  });

  it('takes a value just under the limits', async () => {
    const store = sdkStore();
    const value = 'x'.repeat(2 * 1024 * 1024 - 2);
    expect(await store.put('k'.repeat(1024), value, 0)).toBe(1);
  });
});

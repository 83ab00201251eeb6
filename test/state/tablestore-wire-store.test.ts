import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTablestoreServer, type TablestoreServer } from '../../local/tablestore-server';
import { encodeRows, messages } from '../../local/tablestore-server/wire';
import { createStateStore, StateStoreError } from '../../shared/state';
import { TablestoreStateStore } from '../../shared/state/tablestore';
import { TablestoreWireStore } from '../../shared/state/tablestore-client';
import { TABLESTORE_ROLE } from '../support/tablestore-role';

const ROLE = TABLESTORE_ROLE;
const INSTANCE = 'cfw-wire';

let server: TablestoreServer;
let tableNumber = 0;
const location = (endpoint: string, table = `wire_${++tableNumber}`) => ({
  instance: INSTANCE,
  table,
  endpoint,
  credentials: ROLE,
});

beforeAll(async () => {
  server = await startTablestoreServer({ instance: INSTANCE, credentials: [ROLE] });
});
afterAll(() => server.close());

describe('tablestore store (our own client)', () => {
  it('increments a counter atomically on the server: concurrent callers each get a distinct new count', async () => {
    const store = new TablestoreWireStore(location(server.endpoint));
    const counts = await Promise.all(Array.from({ length: 12 }, () => store.increment('budget/acct/1', 1)));
    expect([...counts].sort((left, right) => left - right)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    expect(await store.increment('budget/acct/1', 3)).toBe(15);
    expect(server.calls.at(-1)).toEqual({ operation: 'UpdateRow', code: 'OK' });
  });

  it('reads what the official SDK wrote, and writes what it reads, on one table', async () => {
    const shared = location(server.endpoint);
    const ours = new TablestoreWireStore(shared);
    const sdk = new TablestoreStateStore(shared);
    expect(await sdk.put('flow/-/1', { status: 'DRAFT', note: '流程' }, 0)).toBe(1);
    expect(await ours.get('flow/-/1')).toEqual({
      key: 'flow/-/1',
      value: { status: 'DRAFT', note: '流程' },
      version: 1,
    });
    expect(await ours.put('flow/-/1', { status: 'PUBLISHED' }, 1)).toBe(2);
    expect(await sdk.get('flow/-/1')).toEqual({
      key: 'flow/-/1',
      value: { status: 'PUBLISHED' },
      version: 2,
    });
    expect(await sdk.put('flow/-/1', 'stale', 1)).toBeUndefined();
    expect(await ours.delete('flow/-/1', 2)).toBe(true);
    expect(await sdk.get('flow/-/1')).toBeUndefined();
  });
});

/** `cutAfter`: the connection drops after this many bytes of the body, though more were announced. */
type HostileAnswer = { status: number; body: Uint8Array; md5?: string; cutAfter?: number };

describe('tablestore store (our own client) over https', () => {
  it('refuses an endpoint whose certificate Node does not trust, saying so, never sending the request', async () => {
    // This Node was not started with NODE_EXTRA_CA_CERTS naming the test certificate
    // (test/bundles/bundles.node-test.ts runs the built poller in one that was).
    const fixtures = join(__dirname, '../fixtures');
    const untrusted = await startTablestoreServer({
      instance: INSTANCE,
      credentials: [ROLE],
      tls: {
        key: readFileSync(join(fixtures, 'loopback-tls.key')),
        cert: readFileSync(join(fixtures, 'loopback-tls.crt')),
      },
    });
    try {
      const store = new TablestoreWireStore({ ...location(untrusted.endpoint, 'wire_tls'), maxRetries: 0 });
      const failure = await store.get('k').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StateStoreError);
      expect(failure).toMatchObject({ code: 'TlsCertificateUntrusted', retryable: true });
      expect((failure as Error).message).toMatch(
        /^Tablestore GetRow on table wire_tls failed: the endpoint's TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\) — check that TABLESTORE_ENDPOINT/,
      );
      expect((failure as Error).message).not.toContain(ROLE.accessKeySecret);
      expect(untrusted.calls).toEqual([]);
    } finally {
      await untrusted.close();
    }
  });
});

describe('tablestore store (our own client) at an IPv6 endpoint', () => {
  it('connects to a bracketed IPv6 TABLESTORE_ENDPOINT, which the configuration check accepts', async (context) => {
    let server: TablestoreServer;
    try {
      server = await startTablestoreServer({
        instance: 'cfw-test',
        credentials: [TABLESTORE_ROLE],
        host: '::1',
      });
    } catch {
      // A host without IPv6 loopback cannot show it; the address handling is the same either way.
      context.skip();
      return;
    }
    try {
      expect(server.endpoint).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const store = await createStateStore('tablestore://cfw-test/ipv6_state', {
        credentials: TABLESTORE_ROLE,
        env: { TABLESTORE_ENDPOINT: server.endpoint },
      });
      try {
        expect(await store.put('flow/-/1', { status: 'PUBLISHED' }, 0)).toBe(1);
        expect(await store.get('flow/-/1')).toMatchObject({ value: { status: 'PUBLISHED' }, version: 1 });
      } finally {
        await store.close();
      }
    } finally {
      await server.close();
    }
  });
});

describe('tablestore store (our own client) against hostile answers', () => {
  let hostile: Server;
  let endpoint = '';
  let reply: (operation: string) => HostileAnswer = () => ({
    status: 200,
    body: new Uint8Array(),
  });

  beforeAll(async () => {
    hostile = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const operation = (request.url ?? '').slice(1);
        const answer =
          operation === 'DescribeTable' ? { status: 200, body: new Uint8Array() } : reply(operation);
        response.writeHead(answer.status, {
          'x-ots-contentmd5': answer.md5 ?? createHash('md5').update(answer.body).digest('base64'),
          'x-ots-requestid': '0006a1b2-c3d4-e5f6-0708-090a0b0c0d0e',
          'content-length': String(answer.body.length),
        });
        if (answer.cutAfter === undefined) {
          response.end(Buffer.from(answer.body));
          return;
        }
        response.write(Buffer.from(answer.body.subarray(0, answer.cutAfter)), () => response.destroy());
      });
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => hostile.close(() => resolve())));

  const row = (key: string, value: string, version: bigint) =>
    encodeRows(
      [
        {
          primaryKey: key,
          columns: new Map<string, string | bigint>([
            ['value', value],
            ['version', version],
          ]),
        },
      ],
      'key',
    );
  const getRowAnswer = (rowBytes: Uint8Array) =>
    messages.GetRowResponse?.encode({ consumed: { capacityUnit: { read: 1 } }, row: rowBytes }).finish() ??
    new Uint8Array();

  const cases: Array<[string, () => HostileAnswer, string]> = [
    [
      'a field running past the end of the message',
      () => ({ status: 200, body: Uint8Array.from([0x12, 0x7f, 1]) }),
      'InvalidResponse',
    ],
    [
      'a row whose checksum does not match',
      () => {
        const bytes = Buffer.from(row('k', '"v"', 1n));
        bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 0xff;
        return { status: 200, body: getRowAnswer(bytes) };
      },
      'InvalidResponse',
    ],
    [
      'an answer cut off mid-body',
      () => ({ status: 200, body: getRowAnswer(row('k', '"v"', 1n)), cutAfter: 10 }),
      'NetworkingError',
    ],
    [
      'a body that does not match its MD5',
      () => ({ status: 200, body: getRowAnswer(row('k', '"v"', 1n)), md5: 'AAAA' }),
      'InvalidResponse',
    ],
    [
      'a row for another key',
      () => ({ status: 200, body: getRowAnswer(row('other', '"v"', 1n)) }),
      'InvalidResponse',
    ],
    [
      'a row whose value is not JSON',
      () => ({ status: 200, body: getRowAnswer(row('k', '{oops', 1n)) }),
      'StateCorrupt',
    ],
    ['a row with version 0', () => ({ status: 200, body: getRowAnswer(row('k', '1', 0n)) }), 'StateCorrupt'],
    [
      'an error body that is not an Error message',
      () => ({ status: 500, body: Uint8Array.from([0xff, 0xff]) }),
      'HTTP500',
    ],
    [
      'an error code with characters no code has',
      () => ({
        status: 403,
        body: messages.Error?.encode({ code: 'OTS<script>' }).finish() ?? new Uint8Array(),
      }),
      'HTTP403',
    ],
  ];

  it.each(cases)('refuses %s with a typed error, never a crash', async (_, answer, code) => {
    reply = answer;
    const store = new TablestoreWireStore({ ...location(endpoint), maxRetries: 0 });
    const failure = await store.get('k').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StateStoreError);
    expect(failure).toMatchObject({ code });
  });

  it('refuses a range page outside the prefix or out of order', async () => {
    reply = () => ({
      status: 200,
      body:
        messages.GetRangeResponse?.encode({
          consumed: { capacityUnit: { read: 1 } },
          rows: encodeRows(
            [
              {
                primaryKey: 'flow/2',
                columns: new Map<string, string | bigint>([
                  ['value', '1'],
                  ['version', 1n],
                ]),
              },
              {
                primaryKey: 'flow/1',
                columns: new Map<string, string | bigint>([
                  ['value', '1'],
                  ['version', 1n],
                ]),
              },
            ],
            'key',
          ),
        }).finish() ?? new Uint8Array(),
    });
    const store = new TablestoreWireStore({ ...location(endpoint), maxRetries: 0 });
    await expect(store.list('flow/')).rejects.toMatchObject({ code: 'InvalidResponse' });
  });

  it('never repeats an increment after a failure that may have applied it', async () => {
    let updates = 0;
    reply = () => {
      updates += 1;
      return {
        status: 500,
        body: messages.Error?.encode({ code: 'OTSInternalServerError' }).finish() ?? new Uint8Array(),
      };
    };
    const store = new TablestoreWireStore({ ...location(endpoint), maxRetries: 3 });
    await expect(store.increment('budget/x', 1)).rejects.toMatchObject({
      code: 'OTSInternalServerError',
      retryable: true,
    });
    expect(updates).toBe(1);
  });
});

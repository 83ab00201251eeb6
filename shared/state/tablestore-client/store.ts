/**
 * The Tablestore state store over a client of our own: the same table, columns and conditions
 * as the SDK-based TablestoreStateStore, but each call is one signed POST over node's own
 * http/https with a keep-alive agent. The official SDK costs ~794 KB and tens of milliseconds to
 * load on every cold start; this client is a few KB, and needs no undici, so a watched flow's
 * first answer (the store alone) never loads it (README, "Tablestore client").
 *
 * Table schema: primary key `key` (STRING); `value` (STRING, JSON) and `version` (INTEGER) for
 * versioned items. Counters live in `<table>_counters`, `count` (INTEGER), whose rows expire. Everything read back is checked — protobuf
 * bounds, plain-buffer checksums, column types, JSON — and a bad answer becomes a StateStoreError.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Credentials } from '../../cams/types';
import { type Clock, systemClock } from '../../clock';
import { StateStoreError } from '../errors';
import { appliedUnlessConditionFails, otsError, untrustedCertificate } from '../tablestore-errors';
import type { TablestoreLocation } from '../tablestore-location';
import type { Counter, StateStore, VersionedItem } from '../types';
import {
  createTableRequest,
  deleteRowRequest,
  errorOf,
  getRangeRequest,
  getRowRequest,
  putRowRequest,
  ROW_EXPECT_EXIST,
  ROW_EXPECT_NOT_EXIST,
  ROW_IGNORE,
  type RowCondition,
  rangeOf,
  rowOf,
  updateRowRequest,
} from './messages';
import { CELL_OP_INCREMENT, type DecodedRow, decodeRows, encodeRow } from './plain-buffer';
import { WireFormatError } from './protobuf';
import { signOtsRequest } from './signature';

export interface TablestoreWireStoreOptions extends TablestoreLocation {
  readonly credentials: Credentials;
  /** Whole-call timeout, from sending to the last byte of the answer. */
  readonly timeoutMs?: number;
  /** Further attempts after a failure that Tablestore says left nothing applied. */
  readonly maxRetries?: number;
  readonly clock?: Clock;
}

const PRIMARY_KEY = 'key';
const COUNT = 'count';
const COUNTER_TABLE_SUFFIX = '_counters';
/** Tablestore's minimum time to live, one day: counters only need to outlive a rolling second. */
const COUNTER_TTL_SECONDS = 86_400;
/** Above every character a key can hold, so [prefix, prefix + MAX_CHAR) is the prefix's range. */
const MAX_CHAR = '\u{10FFFF}';
const PAGE_ROWS = 1000;
/** Tablestore answers at most 4 MB per GetRange page; anything far larger is not Tablestore. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const RETRY_BASE_MS = 100;
/** Reads may be repeated after any retryable failure; a write only if it surely was not applied. */
const IDEMPOTENT = new Set(['GetRow', 'GetRange']);
const NOT_APPLIED = new Set([
  'OTSServerBusy',
  'OTSNotEnoughCapacityUnit',
  'OTSOperationThrottled',
  'OTSQuotaExhausted',
  'OTSRowOperationConflict',
  'OTSTableNotReady',
  'OTSPartitionUnavailable',
]);
interface Transport {
  readonly request: typeof httpRequest;
  readonly agent: HttpAgent;
  /** When the last request on this pool ended (or began): how long its idle sockets have sat. */
  lastUsedAt: number;
}
/**
 * Idle pooled connections older than this are closed instead of reused. FC freezes an instance
 * between invocations, so neither our agent's idle timer nor the server's close (a FIN) is
 * processed while frozen: on thaw, a pooled socket the server closed long ago still looks free,
 * and a write sent on it fails (NetworkingError — the budget would fall back to its local share
 * and the answer go unshared). Below the 5 s idle timeout common HTTP servers use (Node's default
 * keepAliveTimeout); a warm instance under steady traffic keeps its connections.
 */
const MAX_IDLE_REUSE_MS = 4000;
/** One keep-alive pool per protocol and warm instance, shared by every run's store. */
let httpTransport: Transport | undefined;
let httpsTransport: Promise<Transport> | undefined;
/** node:https (and TLS with it) loads only for an https endpoint, not on every cold start. */
function transportFor(protocol: string): Transport | Promise<Transport> {
  if (protocol !== 'https:') {
    httpTransport ??= {
      request: httpRequest,
      agent: new HttpAgent({ keepAlive: true, timeout: 30_000 }),
      lastUsedAt: 0,
    };
    return httpTransport;
  }
  httpsTransport ??= import('node:https').then(({ Agent, request }) => ({
    request,
    agent: new Agent({ keepAlive: true, timeout: 30_000 }),
    lastUsedAt: 0,
  }));
  return httpsTransport;
}

/** In-flight requests keep their sockets; only the pool's free ones go. */
function closeIdleSockets(agent: HttpAgent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}

function keyCell(key: string) {
  return { name: PRIMARY_KEY, value: key };
}

function versionIs(expectedVersion: number): RowCondition {
  if (expectedVersion === 0) return { rowExistence: ROW_EXPECT_NOT_EXIST };
  return {
    rowExistence: ROW_EXPECT_EXIST,
    columnEquals: { column: 'version', value: BigInt(expectedVersion) },
  };
}

export class TablestoreWireStore implements StateStore {
  readonly #options: TablestoreWireStoreOptions;
  readonly #clock: Clock;
  readonly #endpoint: URL;

  constructor(options: TablestoreWireStoreOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#endpoint = new URL(options.endpoint);
    if (this.#endpoint.protocol !== 'http:' && this.#endpoint.protocol !== 'https:') {
      throw new StateStoreError(
        'InvalidConfiguration',
        `the Tablestore endpoint must be http(s)://, not ${this.#endpoint.protocol}`,
      );
    }
  }

  /** One POST; resolves once the whole answer is read (at most MAX_ANSWER_BYTES). */
  async #post(operation: string, headers: Record<string, string>, body: Buffer) {
    const transport = await transportFor(this.#endpoint.protocol);
    const { request, agent } = transport;
    const now = this.#clock.now();
    if (now - transport.lastUsedAt > MAX_IDLE_REUSE_MS) closeIdleSockets(agent);
    transport.lastUsedAt = now;
    const timeoutMs = this.#options.timeoutMs ?? 5000;
    return new Promise<{ statusCode: number; answerMd5: unknown; answer: Buffer }>((resolve, reject) => {
      const outgoing = request(
        {
          protocol: this.#endpoint.protocol,
          hostname: this.#endpoint.hostname,
          port: this.#endpoint.port,
          path: `/${operation}`,
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'content-type': 'application/x-protobuf',
            'content-length': String(body.length),
          },
        },
        (response: IncomingMessage) => {
          readLimited(response).then(
            (answer) =>
              resolve({
                statusCode: response.statusCode ?? 0,
                answerMd5: response.headers['x-ots-contentmd5'],
                answer,
              }),
            reject,
          );
        },
      );
      // A plain timer, not AbortSignal.timeout: loading the abort machinery showed in the cold-start profile.
      const timer = setTimeout(
        () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      outgoing.on('close', () => {
        clearTimeout(timer);
        transport.lastUsedAt = this.#clock.now();
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  get #table(): string {
    return this.#options.table;
  }

  get #counterTable(): string {
    return `${this.#options.table}${COUNTER_TABLE_SUFFIX}`;
  }

  /** One signed call; resolves to the answer's body, rejects with a StateStoreError. */
  async #send(operation: string, body: Buffer): Promise<Buffer> {
    const headers = signOtsRequest({
      operation,
      body,
      instance: this.#options.instance,
      credentials: this.#options.credentials,
      nowMs: this.#clock.now(),
    });
    let statusCode: number;
    let answer: Buffer;
    let answerMd5: unknown;
    try {
      ({ statusCode, answerMd5, answer } = await this.#post(operation, headers, body));
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      throw (
        untrustedCertificate(operation, this.#options, error) ??
        otsError('NetworkingError', operation, this.#options, { cause: error })
      );
    }
    if (typeof answerMd5 === 'string' && answerMd5 !== md5Base64(answer)) {
      throw otsError('InvalidResponse', operation, this.#options);
    }
    if (statusCode !== 200) {
      let error: { code: string | undefined; message: string } = { code: undefined, message: '' };
      try {
        error = errorOf(answer);
      } catch {
        // A malformed error body: the HTTP status is all there is.
      }
      throw otsError(error.code ?? `HTTP${statusCode}`, operation, this.#options, { message: error.message });
    }
    return answer;
  }

  async #call(operation: string, body: Buffer): Promise<Buffer> {
    const maxRetries = this.#options.maxRetries ?? 3;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#send(operation, body);
      } catch (error) {
        const failure = error as StateStoreError;
        const repeatable = IDEMPOTENT.has(operation) ? failure.retryable : NOT_APPLIED.has(failure.code);
        if (!repeatable || attempt >= maxRetries) throw failure;
        await this.#clock.sleep(RETRY_BASE_MS * 2 ** attempt);
      }
    }
  }

  /** Decodes an answer, turning any malformed byte into a StateStoreError naming the operation. */
  #decode<T>(operation: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      if (error instanceof WireFormatError) {
        throw new StateStoreError(
          'InvalidResponse',
          `Tablestore ${operation} on table ${this.#table} answered a malformed body (${error.message})`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** A conditional write: true when applied, false when its condition did not hold. */
  #conditional(operation: string, body: Buffer, table = this.#table): Promise<boolean> {
    return appliedUnlessConditionFails(this.#onTable(operation, body, table));
  }

  /**
   * One call on `table`, creating the table when Tablestore answers that it does not exist, then
   * calling once more. Asking first (DescribeTable) would cost every cold instance a round trip
   * before its first answer; a missing table happens once per deployment.
   */
  async #onTable(operation: string, body: Buffer, table = this.#table, timeToLive = -1): Promise<Buffer> {
    try {
      return await this.#call(operation, body);
    } catch (error) {
      if ((error as StateStoreError).code !== 'OTSObjectNotExist') throw error;
    }
    try {
      await this.#call('CreateTable', createTableRequest(table, PRIMARY_KEY, timeToLive));
    } catch (createError) {
      // A concurrent creator winning the race is fine.
      if ((createError as StateStoreError).code !== 'OTSObjectAlreadyExist') throw createError;
    }
    return this.#call(operation, body);
  }

  #item<T>(row: DecodedRow): VersionedItem<T> {
    const key = row.primaryKey.length === 1 ? row.primaryKey[0]?.value : undefined;
    if (typeof key !== 'string' || row.primaryKey[0]?.name !== PRIMARY_KEY) {
      throw new StateStoreError(
        'StateCorrupt',
        `Tablestore table ${this.#table} has a row with another primary key`,
      );
    }
    const value = row.attributes.find((cell) => cell.name === 'value')?.value;
    const version = row.attributes.find((cell) => cell.name === 'version')?.value;
    if (typeof value !== 'string' || typeof version !== 'bigint' || version < 1n || version > 2n ** 53n) {
      throw new StateStoreError(
        'StateCorrupt',
        `Tablestore table ${this.#table} has a malformed row for key ${key}`,
      );
    }
    try {
      return { key, value: JSON.parse(value) as T, version: Number(version) };
    } catch (error) {
      throw new StateStoreError(
        'StateCorrupt',
        `Tablestore table ${this.#table} holds invalid JSON for key ${key}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * A listed row; one whose columns cannot be read comes back marked `unreadable` (version -1,
   * as the other stores do) so one damaged row cannot fail the listing of every other one.
   */
  #listed<T>(row: DecodedRow): VersionedItem<T> {
    try {
      return this.#item<T>(row);
    } catch (error) {
      const [cell, ...more] = row.primaryKey;
      const key = cell?.name === PRIMARY_KEY && more.length === 0 ? cell.value : undefined;
      // A row keyed otherwise means the wrong table, not one damaged row: that still fails.
      if (!(error instanceof StateStoreError) || error.code !== 'StateCorrupt' || typeof key !== 'string')
        throw error;
      return { key, value: undefined as T, version: -1, unreadable: error.message };
    }
  }

  async get<T = unknown>(key: string): Promise<VersionedItem<T> | undefined> {
    const answer = await this.#onTable('GetRow', getRowRequest(this.#table, encodeRow(keyCell(key))));
    const rows = this.#decode('GetRow', () => decodeRows(rowOf(answer)));
    if (rows.length > 1)
      throw new StateStoreError('InvalidResponse', `Tablestore GetRow answered ${rows.length} rows`);
    const [row] = rows;
    if (!row) return undefined;
    const item = this.#item<T>(row);
    if (item.key !== key)
      throw new StateStoreError('InvalidResponse', 'Tablestore GetRow answered another key');
    return item;
  }

  async list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]> {
    const end = encodeRow(keyCell(`${prefix}${MAX_CHAR}`));
    const items: VersionedItem<T>[] = [];
    let start = encodeRow(keyCell(prefix));
    let lastKey: string | undefined;
    for (;;) {
      const answer = await this.#onTable('GetRange', getRangeRequest(this.#table, start, end, PAGE_ROWS));
      const page = this.#decode('GetRange', () => {
        const { rows, nextStart } = rangeOf(answer);
        return { rows: decodeRows(rows), nextStart };
      });
      for (const row of page.rows) {
        const item = this.#listed<T>(row);
        // A range answer out of order or outside the range would loop or leak other rows.
        if (!item.key.startsWith(prefix) || (lastKey !== undefined && item.key <= lastKey)) {
          throw new StateStoreError(
            'InvalidResponse',
            'Tablestore GetRange answered rows out of order or range',
          );
        }
        lastKey = item.key;
        items.push(item);
      }
      if (!page.nextStart || page.nextStart.length === 0) return items;
      const next = this.#decode('GetRange', () => decodeRows(page.nextStart ?? Buffer.alloc(0)))[0]
        ?.primaryKey[0]?.value;
      if (
        typeof next !== 'string' ||
        (lastKey !== undefined && next <= lastKey) ||
        !next.startsWith(prefix)
      ) {
        throw new StateStoreError(
          'InvalidResponse',
          'Tablestore GetRange answered an invalid next start key',
        );
      }
      start = encodeRow(keyCell(next));
    }
  }

  async put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined> {
    const version = expectedVersion + 1;
    const row = encodeRow(keyCell(key), [
      { name: 'value', value: JSON.stringify(value) },
      { name: 'version', value: BigInt(version) },
    ]);
    const applied = await this.#conditional(
      'PutRow',
      putRowRequest(this.#table, row, versionIs(expectedVersion)),
    );
    return applied ? version : undefined;
  }

  async delete(key: string, expectedVersion: number): Promise<boolean> {
    if (expectedVersion < 1) return false;
    const primaryKey = encodeRow(keyCell(key), [], { deleteMarker: true });
    return this.#conditional(
      'DeleteRow',
      deleteRowRequest(this.#table, primaryKey, versionIs(expectedVersion)),
    );
  }

  /**
   * Adds `by` to the counter's `count` column atomically on the server (UpdateRow with an
   * INCREMENT cell, answering the value after the change) and resolves to the new count. A row
   * or column that does not exist yet starts from 0. Never repeated after a failure that may
   * have applied.
   */
  async increment(key: string, by: number): Promise<number> {
    if (!Number.isSafeInteger(by))
      throw new StateStoreError('InvalidArgument', 'increment needs a whole number');
    const table = this.#counterTable;
    const change = encodeRow(keyCell(key), [
      { name: COUNT, value: BigInt(by), operation: CELL_OP_INCREMENT },
    ]);
    const answer = await this.#onTable(
      'UpdateRow',
      updateRowRequest(table, change, { rowExistence: ROW_IGNORE }, [COUNT]),
      table,
      COUNTER_TTL_SECONDS,
    );
    const [row] = this.#decode('UpdateRow', () => decodeRows(rowOf(answer)));
    const count = countOf(row);
    if (count === undefined) {
      throw new StateStoreError(
        'InvalidResponse',
        `Tablestore UpdateRow on table ${table} did not answer the new count`,
      );
    }
    return count;
  }

  async counters(startKey: string, endKey: string): Promise<Counter[]> {
    const table = this.#counterTable;
    const end = encodeRow(keyCell(endKey));
    const counters: Counter[] = [];
    let start = encodeRow(keyCell(startKey));
    let lastKey: string | undefined;
    for (;;) {
      const answer = await this.#onTable(
        'GetRange',
        getRangeRequest(table, start, end, PAGE_ROWS),
        table,
        COUNTER_TTL_SECONDS,
      );
      const page = this.#decode('GetRange', () => {
        const { rows, nextStart } = rangeOf(answer);
        return { rows: decodeRows(rows), nextStart };
      });
      for (const row of page.rows) {
        const key = row.primaryKey.length === 1 ? row.primaryKey[0]?.value : undefined;
        const value = countOf(row);
        // A range answer out of order or outside the range would loop or count other rows.
        if (
          typeof key !== 'string' ||
          key < startKey ||
          key >= endKey ||
          (lastKey !== undefined && key <= lastKey)
        ) {
          throw new StateStoreError(
            'InvalidResponse',
            'Tablestore GetRange answered rows out of order or range',
          );
        }
        lastKey = key;
        if (value !== undefined) counters.push({ key, value });
      }
      if (!page.nextStart || page.nextStart.length === 0) return counters;
      const next = this.#decode('GetRange', () => decodeRows(page.nextStart ?? Buffer.alloc(0)))[0]
        ?.primaryKey[0]?.value;
      if (typeof next !== 'string' || (lastKey !== undefined && next <= lastKey) || next >= endKey) {
        throw new StateStoreError(
          'InvalidResponse',
          'Tablestore GetRange answered an invalid next start key',
        );
      }
      start = encodeRow(keyCell(next));
    }
  }

  async close(): Promise<void> {}
}

/** A counter row's `count`, when it is an integer a JavaScript number holds exactly. */
function countOf(row: DecodedRow | undefined): number | undefined {
  const count = row?.attributes.find((cell) => cell.name === COUNT)?.value;
  if (typeof count !== 'bigint' || count > 2n ** 53n || count < -(2n ** 53n)) return undefined;
  return Number(count);
}

function md5Base64(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Plain events, not `for await`: the async-iterator machinery showed in the cold-start profile. */
function readLimited(body: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) {
        body.destroy();
        reject(new StateStoreError('InvalidResponse', 'Tablestore answered more than 16 MB'));
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => resolve(Buffer.concat(chunks)));
    body.on('error', reject);
    // An answer cut off mid-body closes without 'end': a network failure, never a short answer.
    body.on('close', () => {
      if (!body.complete) reject(new Error('the answer was cut off'));
    });
  });
}

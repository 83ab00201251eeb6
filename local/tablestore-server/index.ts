/**
 * A Tablestore stand-in on 127.0.0.1 that speaks the service's wire protocol (POST /<Operation>,
 * protobuf bodies, plain-buffer rows, `x-ots-*` headers) for the operations the state store uses:
 * CreateTable, DescribeTable, GetRow, PutRow, UpdateRow (PUT, DELETE and atomic INCREMENT cells,
 * ReturnType.AfterModify), DeleteRow and GetRange. It checks what the service
 * checks (content MD5, date skew, instance, access key, STS token, signature), evaluates row
 * existence and single-column conditions, pages GetRange, and can inject faults — so the state
 * store is tested through the real SDK, not against a mocked client.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { buffer } from 'node:stream/consumers';
import type { Credentials } from '../../shared/cams/types';
import { type Clock, systemClock } from '../../shared/clock';
import { listen } from '../listen';
import { isOtsSignatureValid } from './ots-signature';
import { updateRow } from './update-row';
import {
  type CellValue,
  type ColumnCheck,
  decodeColumnCondition,
  decodeRow,
  encodePrimaryKey,
  encodeRows,
  LIMITS,
  messages,
  type StoredRow,
  WireError,
} from './wire';

export interface TablestoreServerOptions {
  /** The instance name requests must carry in `x-ots-instancename`. */
  readonly instance: string;
  /** Accepted keys; a key with a `securityToken` is an STS key and needs `x-ots-ststoken`. */
  readonly credentials: readonly Credentials[];
  readonly clock?: Clock;
  /** GetRange answers at most this many rows per page (the service caps by size and count). */
  readonly pageSize?: number;
  /**
   * The instance's network ACL refuses this caller, as a new instance refuses Internet access
   * (and a function without vpcConfig): every request gets the service's OTSAuthFailed.
   */
  readonly deniedByAcl?: boolean;
  /**
   * Serve https with this PEM key and certificate, as both of the service's endpoints do (public
   * and VPC). Without it the stand-in speaks plain http on loopback. The certificate is only as
   * trusted as the client makes it: nothing here relaxes verification.
   */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** The loopback address to listen on: 127.0.0.1 (default), or ::1 for an IPv6 endpoint. */
  readonly host?: '127.0.0.1' | '::1';
}

/**
 * An error answer, a reset connection, or (`delayMs`) a request applied and answered normally but
 * only that long after it arrived: a slow partition, as the service has them.
 */
export type TablestoreFault =
  | { readonly httpStatus: number; readonly code: string; readonly message?: string }
  | { readonly delayMs: number }
  | 'reset';

export interface TablestoreCall {
  readonly operation: string;
  readonly code: string;
}

export interface TablestoreServer {
  readonly endpoint: string;
  readonly calls: readonly TablestoreCall[];
  /** Answers the next `count` requests (optionally only of one operation) with a fault. */
  failNext(count: number, fault: TablestoreFault, operation?: string): void;
  /** Drops every pending fault: the server answers normally again. */
  clearFaults(): void;
  /** Rows of a table in key order, for assertions. */
  rows(table: string): StoredRow[];
  /** A table's time to live in seconds as created (-1: rows never expire). */
  timeToLive(table: string): number | undefined;
  /** Deletes a table, as an operator might. */
  dropTable(table: string): void;
  /**
   * Stores a row as given, bypassing every request check, as a buggy writer or a hand edit in
   * the console might: how tests plant a row whose columns the state store cannot read.
   */
  plantRow(table: string, row: StoredRow): void;
  close(): Promise<void>;
}

interface Table {
  readonly primaryKeyName: string;
  readonly timeToLive: number;
  readonly rows: Map<string, StoredRow>;
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const EXPECT_EXIST = 1;
const EXPECT_NOT_EXIST = 2;
const REQUIRED_HEADERS = [
  'x-ots-date',
  'x-ots-apiversion',
  'x-ots-accesskeyid',
  'x-ots-contentmd5',
  'x-ots-signature',
  'x-ots-instancename',
];
const CONSUMED = { capacityUnit: { read: 1, write: 1 } };

const conditionFailed = () => new WireError(403, 'OTSConditionCheckFail', 'Condition check failed.');
const tableMissing = () => new WireError(404, 'OTSObjectNotExist', 'Requested table does not exist.');

function compareKeys(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

function compare(stored: CellValue, expected: CellValue): number {
  if (typeof stored !== typeof expected) return Number.NaN;
  if (stored === expected) return 0;
  return stored < expected ? -1 : 1;
}

function passes(check: ColumnCheck | undefined, row: StoredRow | undefined): boolean {
  if (!check) return true;
  const stored = row?.columns.get(check.columnName);
  if (stored === undefined) return check.passIfMissing;
  const order = compare(stored, check.value);
  // ComparatorType: EQUAL 1, NOT_EQUAL 2, GREATER_THAN 3, GREATER_EQUAL 4, LESS_THAN 5, LESS_EQUAL 6.
  return (
    [order === 0, order !== 0, order > 0, order >= 0, order < 0, order <= 0][check.comparator - 1] ?? false
  );
}

function checkCondition(condition: Record<string, unknown> | undefined, row: StoredRow | undefined): void {
  const existence = Number(condition?.rowExistence ?? 0);
  if (existence === EXPECT_EXIST && !row) throw conditionFailed();
  if (existence === EXPECT_NOT_EXIST && row) throw conditionFailed();
  if (!passes(decodeColumnCondition(condition?.columnCondition as Uint8Array | undefined), row)) {
    throw conditionFailed();
  }
}

export async function startTablestoreServer(options: TablestoreServerOptions): Promise<TablestoreServer> {
  const clock = options.clock ?? systemClock;
  const pageSize = options.pageSize ?? 100;
  const tables = new Map<string, Table>();
  const calls: TablestoreCall[] = [];
  const faults: Array<{ fault: TablestoreFault; operation: string | undefined; remaining: number }> = [];
  const sockets = new Set<Socket>();

  function tableOf(request: Record<string, unknown>): Table {
    const table = tables.get(String(request.tableName));
    if (!table) throw tableMissing();
    return table;
  }

  function authenticate(operation: string, request: IncomingMessage, body: Buffer): void {
    for (const name of REQUIRED_HEADERS) {
      if (!request.headers[name]) throw new WireError(400, 'OTSParameterInvalid', `Missing header: ${name}.`);
    }
    const md5 = createHash('md5').update(body).digest('base64');
    if (request.headers['x-ots-contentmd5'] !== md5) {
      throw new WireError(
        403,
        'OTSAuthFailed',
        'Mismatch between MD5 value of request body and x-ots-contentmd5 in header.',
      );
    }
    const date = String(request.headers['x-ots-date']);
    if (!(Math.abs(clock.now() - Date.parse(date)) <= MAX_SKEW_MS)) {
      throw new WireError(403, 'OTSAuthFailed', `Mismatch between system time and x-ots-date: ${date}.`);
    }
    if (request.headers['x-ots-instancename'] !== options.instance) {
      throw new WireError(403, 'OTSAuthFailed', 'The instance is not found.');
    }
    if (options.deniedByAcl) {
      throw new WireError(403, 'OTSAuthFailed', 'Request denied by instance ACL policies.');
    }
    const key = options.credentials.find(
      (candidate) => candidate.accessKeyId === request.headers['x-ots-accesskeyid'],
    );
    if (!key) throw new WireError(403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
    if (key.securityToken !== undefined && request.headers['x-ots-ststoken'] !== key.securityToken) {
      throw new WireError(403, 'OTSAuthFailed', 'The security token is invalid or missing.');
    }
    if (!isOtsSignatureValid(`/${operation}`, 'POST', request.headers, key.accessKeySecret)) {
      throw new WireError(403, 'OTSAuthFailed', 'Signature mismatch.');
    }
  }

  const operations: Record<string, (request: Record<string, unknown>) => Record<string, unknown>> = {
    CreateTable(request) {
      const meta = request.tableMeta as {
        tableName: string;
        primaryKey: Array<{ name: string; type: number }>;
      };
      const timeToLive = Number(
        (request.tableOptions as { timeToLive?: number } | undefined)?.timeToLive ?? -1,
      );
      if (timeToLive !== -1 && timeToLive < 86_400) {
        throw new WireError(400, 'OTSParameterInvalid', 'TimeToLive must be -1 or at least 86400 seconds.');
      }
      if (tables.has(meta.tableName)) {
        throw new WireError(409, 'OTSObjectAlreadyExist', 'Requested table already exists.');
      }
      const [primaryKey, ...more] = meta.primaryKey;
      if (!primaryKey || more.length > 0) {
        throw new WireError(400, 'OTSParameterInvalid', 'This stand-in supports one primary key column.');
      }
      tables.set(meta.tableName, { primaryKeyName: primaryKey.name, timeToLive, rows: new Map() });
      return {};
    },
    DescribeTable(request) {
      const table = tableOf(request);
      return {
        tableMeta: { tableName: request.tableName, primaryKey: [{ name: table.primaryKeyName, type: 3 }] },
        reservedThroughputDetails: { capacityUnit: { read: 0, write: 0 }, lastIncreaseTime: 0 },
        tableOptions: { timeToLive: table.timeToLive, maxVersions: 1 },
        tableStatus: messages.TableStatus.ACTIVE,
      };
    },
    GetRow(request) {
      const table = tableOf(request);
      const key = decodeRow(request.primaryKey as Uint8Array, table.primaryKeyName).primaryKey;
      const row = table.rows.get(key);
      return { consumed: CONSUMED, row: row ? encodeRows([row], table.primaryKeyName) : Buffer.alloc(0) };
    },
    PutRow(request) {
      const table = tableOf(request);
      const row = decodeRow(request.row as Uint8Array, table.primaryKeyName);
      checkCondition(request.condition as Record<string, unknown>, table.rows.get(row.primaryKey));
      table.rows.set(row.primaryKey, row);
      return { consumed: CONSUMED };
    },
    DeleteRow(request) {
      const table = tableOf(request);
      const key = decodeRow(request.primaryKey as Uint8Array, table.primaryKeyName).primaryKey;
      checkCondition(request.condition as Record<string, unknown>, table.rows.get(key));
      table.rows.delete(key);
      return { consumed: CONSUMED };
    },
    UpdateRow(request) {
      return updateRow(tableOf(request), request, checkCondition);
    },
    GetRange(request) {
      const table = tableOf(request);
      if (request.direction !== 0) {
        throw new WireError(400, 'OTSParameterInvalid', 'This stand-in reads ranges forward only.');
      }
      const start = decodeRow(
        request.inclusiveStartPrimaryKey as Uint8Array,
        table.primaryKeyName,
      ).primaryKey;
      const end = decodeRow(request.exclusiveEndPrimaryKey as Uint8Array, table.primaryKeyName).primaryKey;
      const limit = Math.min(Number(request.limit) || pageSize, pageSize);
      const inRange = [...table.rows.values()]
        .filter((row) => compareKeys(row.primaryKey, start) >= 0 && compareKeys(row.primaryKey, end) < 0)
        .sort((left, right) => compareKeys(left.primaryKey, right.primaryKey));
      const page = inRange.slice(0, limit);
      const next = inRange[limit];
      return {
        consumed: CONSUMED,
        rows: page.length > 0 ? encodeRows(page, table.primaryKeyName) : Buffer.alloc(0),
        ...(next ? { nextStartPrimaryKey: encodePrimaryKey(next.primaryKey, table.primaryKeyName) } : {}),
      };
    },
  };

  function answer(response: ServerResponse, httpStatus: number, body: Uint8Array): void {
    response.writeHead(httpStatus, {
      'content-type': 'application/x-protobuf',
      'x-ots-contenttype': 'protocol buffer',
      'x-ots-date': new Date(clock.now()).toISOString(),
      'x-ots-requestid': randomUUID(),
      'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
    });
    response.end(Buffer.from(body));
  }

  function takeFault(operation: string): TablestoreFault | undefined {
    const active = faults.find((entry) => entry.operation === undefined || entry.operation === operation);
    if (!active) return undefined;
    active.remaining -= 1;
    if (active.remaining <= 0) faults.splice(faults.indexOf(active), 1);
    return active.fault;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await buffer(request);
    const operation = (request.url ?? '/').slice(1).split('?')[0] ?? '';
    try {
      if (request.method !== 'POST') {
        throw new WireError(405, 'OTSMethodNotAllowed', 'Only POST method for requests is supported.');
      }
      const run = operations[operation];
      const type = messages[`${operation}Request`];
      if (!run || !type)
        throw new WireError(400, 'OTSParameterInvalid', `Unsupported operation: ${operation}.`);
      authenticate(operation, request, body);
      if ((operation === 'PutRow' || operation === 'UpdateRow') && body.length > LIMITS.writeBytes) {
        throw new WireError(413, 'OTSRequestBodyTooLarge', 'The size of POST data is too large.');
      }
      const fault = takeFault(operation);
      if (fault === 'reset') {
        calls.push({ operation, code: 'reset' });
        request.socket.destroy();
        return;
      }
      if (fault && 'delayMs' in fault) {
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      } else if (fault) {
        throw new WireError(fault.httpStatus, fault.code, fault.message ?? `Injected ${fault.code}.`);
      }
      let decoded: Record<string, unknown>;
      try {
        decoded = type.decode(body);
      } catch {
        throw new WireError(400, 'OTSParameterInvalid', 'The request body is not a valid protobuf message.');
      }
      const result = run(decoded);
      const reply = messages[`${operation}Response`]?.encode(result).finish() ?? new Uint8Array();
      calls.push({ operation, code: 'OK' });
      answer(response, 200, reply);
    } catch (error) {
      const failure =
        error instanceof WireError
          ? error
          : new WireError(500, 'OTSInternalServerError', 'Internal server error.');
      calls.push({ operation, code: failure.code });
      answer(
        response,
        failure.httpStatus,
        messages.Error?.encode({ code: failure.code, message: failure.message }).finish() ?? new Uint8Array(),
      );
    }
  }

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    void handle(request, response);
  };
  const server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createServer(listener);
  // For https, 'connection' gives the TCP socket under TLS: destroying it on close ends both.
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  const { port } = await listen(server, 0, host);

  return {
    endpoint: `${options.tls ? 'https' : 'http'}://${host === '::1' ? '[::1]' : host}:${port}`,
    calls,
    failNext(count, fault, operation) {
      faults.push({ fault, operation, remaining: count });
    },
    clearFaults() {
      faults.length = 0;
    },
    timeToLive(name) {
      return tables.get(name)?.timeToLive;
    },
    dropTable(name) {
      tables.delete(name);
    },
    plantRow(name, row) {
      const table = tables.get(name);
      if (!table) throw new Error(`table ${name} does not exist`);
      table.rows.set(row.primaryKey, row);
    },
    rows(name) {
      const table = tables.get(name);
      return table
        ? [...table.rows.values()].sort((left, right) => compareKeys(left.primaryKey, right.primaryKey))
        : [];
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

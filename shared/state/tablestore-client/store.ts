/**
 * The Tablestore state store over a client of our own: the same table, columns and conditions as
 * the SDK-based TablestoreStateStore, but each call is one signed POST over node's own http/https
 * with a keep-alive agent (connection.ts). The official SDK costs ~794 KB and tens of milliseconds
 * to load on every cold start; this client is a few KB, and needs no undici, so a watched flow's
 * first answer (the store alone) never loads it (README, "Tablestore client").
 *
 * Table schema: primary key `key` (STRING); `value` (STRING, JSON) and `version` (INTEGER) for
 * versioned items. Counters live in `<table>_counters`, `count` (INTEGER), whose rows expire.
 * Everything read back is checked — protobuf bounds, plain-buffer checksums, column types, JSON —
 * and a bad answer becomes a StateStoreError.
 */
import { StateStoreError } from '../errors';
import { appliedUnlessConditionFails, TABLESTORE_LIMITS } from '../tablestore-errors';
import type { Counter, StateStore, VersionedItem } from '../types';
import { TablestoreConnection, type TablestoreConnectionOptions } from './connection';
import {
  createTableRequest,
  deleteRowRequest,
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

export type TablestoreWireStoreOptions = TablestoreConnectionOptions;

const PRIMARY_KEY = 'key';
const COUNT = 'count';
const COUNTER_TABLE_SUFFIX = '_counters';
/** Tablestore's minimum time to live, one day: counters only need to outlive a rolling second. */
const COUNTER_TTL_SECONDS = 86_400;
/** Above every character a key can hold, so [prefix, prefix + MAX_CHAR) is the prefix's range. */
const MAX_CHAR = '\u{10FFFF}';
const PAGE_ROWS = 1000;
/**
 * Pages one range read may take. Tablestore ends a page at 5000 rows or 4 MB scanned, so this is
 * far beyond anything the store holds; past it a peer that keeps naming a next key is looping us.
 */
const MAX_PAGES = 1000;
/** Refused before sending: Tablestore answers OTSParameterInvalid for a key above its limit. */
function keyCell(key: string) {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > TABLESTORE_LIMITS.primaryKeyBytes) {
    throw new StateStoreError(
      'KeyTooLong',
      `the state store key ${JSON.stringify(key.slice(0, 64))}… is ${bytes} bytes, above Tablestore's limit of ${TABLESTORE_LIMITS.primaryKeyBytes} bytes per primary key value`,
    );
  }
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
  readonly #connection: TablestoreConnection;

  constructor(options: TablestoreWireStoreOptions) {
    this.#options = options;
    this.#connection = new TablestoreConnection(options);
  }

  get #table(): string {
    return this.#options.table;
  }

  get #counterTable(): string {
    return `${this.#options.table}${COUNTER_TABLE_SUFFIX}`;
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
      return await this.#connection.call(operation, body);
    } catch (error) {
      if ((error as StateStoreError).code !== 'OTSObjectNotExist') throw error;
    }
    try {
      await this.#connection.call('CreateTable', createTableRequest(table, PRIMARY_KEY, timeToLive));
    } catch (createError) {
      // A concurrent creator winning the race is fine.
      if ((createError as StateStoreError).code !== 'OTSObjectAlreadyExist') throw createError;
    }
    return this.#connection.call(operation, body);
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
    const rows = this.#connection.decode('GetRow', () => decodeRows(rowOf(answer)));
    if (rows.length > 1)
      throw new StateStoreError('InvalidResponse', `Tablestore GetRow answered ${rows.length} rows`);
    const [row] = rows;
    if (!row) return undefined;
    const item = this.#item<T>(row);
    if (item.key !== key)
      throw new StateStoreError('InvalidResponse', 'Tablestore GetRow answered another key');
    return item;
  }

  /**
   * Reads the rows of [startKey, endKey) in key order, page by page, handing each to `take`.
   * Tablestore ends a page early, even with no rows, when a scan reaches its row or size budget,
   * and names the key to go on from; so an empty page is fine, but its next key must be past the
   * page's own start (else the same page is asked for forever) and inside the range, and rows
   * must come in order inside the range. Keys compare as Tablestore orders them, by UTF-8 bytes.
   */
  async #range(
    table: string,
    startKey: string,
    endKey: string,
    take: (row: DecodedRow, key: string) => void,
    timeToLive = -1,
  ): Promise<void> {
    const end = encodeRow(keyCell(endKey));
    const invalid = (what: string) =>
      new StateStoreError('InvalidResponse', `Tablestore GetRange on table ${table} answered ${what}`);
    let pageStart = startKey;
    let lastKey: string | undefined;
    for (let pages = 1; ; pages += 1) {
      const request = getRangeRequest(table, encodeRow(keyCell(pageStart)), end, PAGE_ROWS);
      const answer = await this.#onTable('GetRange', request, table, timeToLive);
      const page = this.#connection.decode('GetRange', () => {
        const { rows, nextStart } = rangeOf(answer);
        return { rows: decodeRows(rows), nextStart };
      });
      for (const row of page.rows) {
        const key = row.primaryKey.length === 1 ? row.primaryKey[0]?.value : undefined;
        if (typeof key !== 'string') throw invalid('a row keyed otherwise than by one STRING key');
        if (
          byteOrder(key, pageStart) < 0 ||
          byteOrder(key, endKey) >= 0 ||
          (lastKey !== undefined && byteOrder(key, lastKey) <= 0)
        ) {
          throw invalid('rows out of order or range');
        }
        lastKey = key;
        take(row, key);
      }
      if (!page.nextStart || page.nextStart.length === 0) return;
      const next = this.#connection.decode('GetRange', () => decodeRows(page.nextStart ?? Buffer.alloc(0)))[0]
        ?.primaryKey[0]?.value;
      if (typeof next !== 'string') throw invalid('a next start key that is no string');
      if (byteOrder(next, pageStart) <= 0 || (lastKey !== undefined && byteOrder(next, lastKey) <= 0)) {
        throw invalid(
          `a next start key ${quoted(next)} not past the page's start ${quoted(pageStart)}: no progress, it would be asked again forever`,
        );
      }
      if (byteOrder(next, endKey) >= 0) {
        throw invalid(`a next start key ${quoted(next)} outside the range read (before ${quoted(endKey)})`);
      }
      if (pages >= MAX_PAGES) throw invalid(`more than ${MAX_PAGES} pages for one range`);
      pageStart = next;
    }
  }

  async list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]> {
    const items: VersionedItem<T>[] = [];
    await this.#range(this.#table, prefix, `${prefix}${MAX_CHAR}`, (row) => {
      items.push(this.#listed<T>(row));
    });
    return items;
  }

  async put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined> {
    const version = expectedVersion + 1;
    // JSON.stringify(undefined) is undefined, whatever its type says.
    const json: string | undefined = JSON.stringify(value);
    const bytes = json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
    // Refused before sending: Tablestore would answer OTSParameterInvalid for the column.
    if (bytes > TABLESTORE_LIMITS.attributeValueBytes) {
      throw new StateStoreError(
        'ValueTooLarge',
        `Tablestore PutRow on table ${this.#table} not sent: the value of ${key} is ${bytes} bytes of JSON, above Tablestore's limit of ${TABLESTORE_LIMITS.attributeValueBytes} bytes per attribute value`,
      );
    }
    const row = encodeRow(keyCell(key), [
      { name: 'value', value: json },
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
    const [row] = this.#connection.decode('UpdateRow', () => decodeRows(rowOf(answer)));
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
    const counters: Counter[] = [];
    const take = (row: DecodedRow, key: string) => {
      const value = countOf(row);
      if (value !== undefined) counters.push({ key, value });
    };
    await this.#range(this.#counterTable, startKey, endKey, take, COUNTER_TTL_SECONDS);
    return counters;
  }

  async close(): Promise<void> {}
}

/** A counter row's `count`, when it is an integer a JavaScript number holds exactly. */
function countOf(row: DecodedRow | undefined): number | undefined {
  const count = row?.attributes.find((cell) => cell.name === COUNT)?.value;
  if (typeof count !== 'bigint' || count > 2n ** 53n || count < -(2n ** 53n)) return undefined;
  return Number(count);
}

/** Tablestore orders STRING keys by their UTF-8 bytes, not by JavaScript's UTF-16 code units. */
function byteOrder(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

/** A key from an answer, said in a message: quoted, and cut short (it may be anything). */
function quoted(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key);
}

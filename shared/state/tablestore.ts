/**
 * The production state store: one Tablestore table, written through the official `tablestore`
 * SDK with the function's RAM role credentials (STS token included).
 *
 * Table schema: primary key `key` (STRING); attribute columns `value` (STRING, the JSON value)
 * and `version` (INTEGER). Every write is conditional — row must not exist (version 0), or must
 * exist with `version` equal to the expected one — so of two overlapping runs only one can
 * claim a change; the other gets OTSConditionCheckFail and re-reads.
 *
 * Counters live in a second table, `<table>_counters` (primary key `key`, INTEGER column
 * `count`), changed by UpdateRow INCREMENT, which Tablestore applies atomically and answers
 * with the new value (ReturnType.AfterModify). That table's rows expire after a day (the
 * shortest TTL Tablestore allows), so per-bucket call counters cost no deletes and do not pile up.
 */
import TableStore from 'tablestore';
import type { Credentials } from '../cams/types';
import { StateStoreError } from './errors';
import { appliedUnlessConditionFails, otsError } from './tablestore-errors';
import type { TablestoreLocation } from './tablestore-location';
import type { Counter, StateStore, VersionedItem } from './types';

export { parseTablestoreUrl, type TablestoreLocation } from './tablestore-location';

export interface TablestoreStoreOptions extends TablestoreLocation {
  readonly credentials: Credentials;
  /** Per-request socket timeout; the SDK retries retryable failures up to `maxRetries` times. */
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
}

type Client = TableStore.Client;
type DecodedRow = TableStore.DecodedRow;
type SdkError = TableStore.SdkError;

const PRIMARY_KEY = 'key';
const COUNT_COLUMN = 'count';
const COUNTER_TABLE_SUFFIX = '_counters';
/** Tablestore's minimum time to live, one day: counters only need to outlive a rolling second. */
const COUNTER_TTL_SECONDS = 86_400;
/** Above every character a key can hold, so [prefix, prefix + MAX_CHAR) is the prefix's range. */
const MAX_CHAR = '\u{10FFFF}';
/** Tables known to exist, per endpoint/instance/table, so a warm instance checks once. */
const knownTables = new Set<string>();

/** The Tablestore error code, which the Node SDK leaves inside the raw body it puts in `message`. */
function codeOf(error: SdkError): string {
  const code = /OTS[A-Za-z]+/.exec(String(error.message))?.[0];
  if (code) return code;
  return typeof error.code === 'string' ? error.code : `HTTP${error.code ?? ''}`;
}

function mapError(error: SdkError, operation: string, location: TablestoreLocation): StateStoreError {
  return otsError(codeOf(error), operation, location, { cause: error, message: String(error.message) });
}

function rowToItem<T>(row: DecodedRow, table: string): VersionedItem<T> | undefined {
  const key = row.primaryKey?.[0]?.value;
  if (typeof key !== 'string') return undefined;
  const value = row.attributes?.find((cell) => cell.columnName === 'value')?.columnValue;
  const version = row.attributes?.find((cell) => cell.columnName === 'version')?.columnValue;
  if (typeof value !== 'string' || typeof version !== 'object' || !('toNumber' in version)) {
    throw new StateStoreError('StateCorrupt', `Tablestore table ${table} has a malformed row for key ${key}`);
  }
  try {
    return { key, value: JSON.parse(value) as T, version: version.toNumber() };
  } catch (error) {
    throw new StateStoreError('StateCorrupt', `Tablestore table ${table} holds invalid JSON for key ${key}`, {
      cause: error,
    });
  }
}

function countOf(row: DecodedRow | undefined): number | undefined {
  const cell = row?.attributes?.find((candidate) => candidate.columnName === COUNT_COLUMN)?.columnValue;
  return typeof cell === 'object' && cell !== null && 'toNumber' in cell ? cell.toNumber() : undefined;
}

export class TablestoreStateStore implements StateStore {
  readonly #client: Client;
  readonly #location: TablestoreLocation;

  constructor(options: TablestoreStoreOptions) {
    this.#location = options;
    this.#client = new TableStore.Client({
      accessKeyId: options.credentials.accessKeyId,
      secretAccessKey: options.credentials.accessKeySecret,
      stsToken: options.credentials.securityToken,
      endpoint: options.endpoint,
      instancename: options.instance,
      maxRetries: options.maxRetries ?? 3,
      httpOptions: { timeout: options.timeoutMs ?? 5000 },
    });
  }

  get #counterTable(): string {
    return `${this.#location.table}${COUNTER_TABLE_SUFFIX}`;
  }

  #call<T>(operation: keyof Client & string, params: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      const method = this.#client[operation] as (
        params: Record<string, unknown>,
        callback: (error: SdkError | null, data: T) => void,
      ) => void;
      method.call(this.#client, { tableName: this.#location.table, ...params }, (error, data) => {
        if (error) reject(error);
        else resolve(data);
      });
    });
  }

  #tableId(table = this.#location.table): string {
    return `${this.#location.endpoint}/${this.#location.instance}/${table}`;
  }

  async #run<T>(operation: keyof Client & string, params: Record<string, unknown>): Promise<T> {
    const table = typeof params.tableName === 'string' ? params.tableName : this.#location.table;
    try {
      return await this.#call<T>(operation, params);
    } catch (error) {
      // Deleted meanwhile, or not loaded yet: the next run checks (and creates) the table again.
      if (codeOf(error as SdkError) === 'OTSObjectNotExist') knownTables.delete(this.#tableId(table));
      throw mapError(error as SdkError, operation.charAt(0).toUpperCase() + operation.slice(1), {
        ...this.#location,
        table,
      });
    }
  }

  /** A conditional write: true when applied, false when its condition did not hold. */
  #conditional(operation: 'putRow' | 'deleteRow', params: Record<string, unknown>): Promise<boolean> {
    return appliedUnlessConditionFails(this.#run(operation, params));
  }

  /** Creates the table on first use; a concurrent creator winning the race is fine. */
  async #ensureTable(table = this.#location.table, timeToLive = -1): Promise<void> {
    const id = this.#tableId(table);
    if (knownTables.has(id)) return;
    try {
      await this.#call('describeTable', { tableName: table });
    } catch (error) {
      if (codeOf(error as SdkError) !== 'OTSObjectNotExist') {
        throw mapError(error as SdkError, 'DescribeTable', { ...this.#location, table });
      }
      try {
        await this.#call('createTable', {
          tableMeta: { tableName: table, primaryKey: [{ name: PRIMARY_KEY, type: 'STRING' }] },
          reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
          tableOptions: { timeToLive, maxVersions: 1 },
        });
      } catch (createError) {
        if (codeOf(createError as SdkError) !== 'OTSObjectAlreadyExist') {
          throw mapError(createError as SdkError, 'CreateTable', { ...this.#location, table });
        }
      }
    }
    knownTables.add(id);
  }

  async get<T = unknown>(key: string): Promise<VersionedItem<T> | undefined> {
    await this.#ensureTable();
    const data = await this.#run<{ row: DecodedRow }>('getRow', {
      primaryKey: [{ [PRIMARY_KEY]: key }],
      maxVersions: 1,
    });
    return rowToItem<T>(data.row, this.#location.table);
  }

  async list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]> {
    await this.#ensureTable();
    const items: VersionedItem<T>[] = [];
    let start: string | undefined = prefix;
    while (start !== undefined) {
      const page: { rows: DecodedRow[]; nextStartPrimaryKey: Array<{ value: unknown }> | null } =
        await this.#run('getRange', {
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: [{ [PRIMARY_KEY]: start }],
          exclusiveEndPrimaryKey: [{ [PRIMARY_KEY]: `${prefix}${MAX_CHAR}` }],
          maxVersions: 1,
          limit: 1000,
        });
      for (const row of page.rows) {
        let item: VersionedItem<T> | undefined;
        try {
          item = rowToItem<T>(row, this.#location.table);
        } catch (error) {
          const key = row.primaryKey?.[0]?.value;
          if (!(error instanceof StateStoreError) || typeof key !== 'string') throw error;
          item = { key, value: undefined as T, version: -1, unreadable: error.message };
        }
        if (item?.key.startsWith(prefix)) items.push(item);
      }
      const next = page.nextStartPrimaryKey?.[0]?.value;
      start = typeof next === 'string' ? next : undefined;
    }
    return items;
  }

  async put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined> {
    await this.#ensureTable();
    const version = expectedVersion + 1;
    const applied = await this.#conditional('putRow', {
      condition: this.#expect(expectedVersion),
      primaryKey: [{ [PRIMARY_KEY]: key }],
      attributeColumns: [{ value: JSON.stringify(value) }, { version: TableStore.Long.fromNumber(version) }],
    });
    return applied ? version : undefined;
  }

  async delete(key: string, expectedVersion: number): Promise<boolean> {
    if (expectedVersion < 1) return false;
    await this.#ensureTable();
    return this.#conditional('deleteRow', {
      condition: this.#expect(expectedVersion),
      primaryKey: [{ [PRIMARY_KEY]: key }],
    });
  }

  async increment(key: string, by: number): Promise<number> {
    const table = this.#counterTable;
    await this.#ensureTable(table, COUNTER_TTL_SECONDS);
    const { Condition, RowExistenceExpectation, Long, ReturnType } = TableStore;
    const data = await this.#run<{ row: DecodedRow }>('updateRow', {
      tableName: table,
      condition: new Condition(RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ [PRIMARY_KEY]: key }],
      updateOfAttributeColumns: [{ INCREMENT: [{ [COUNT_COLUMN]: Long.fromNumber(by) }] }],
      returnContent: { returnType: ReturnType.AfterModify, returnColumns: [COUNT_COLUMN] },
    });
    const count = countOf(data.row);
    if (count === undefined) {
      throw new StateStoreError(
        'StateCorrupt',
        `Tablestore UpdateRow on table ${table} answered no ${COUNT_COLUMN} for key ${key}`,
      );
    }
    return count;
  }

  async counters(startKey: string, endKey: string): Promise<Counter[]> {
    const table = this.#counterTable;
    await this.#ensureTable(table, COUNTER_TTL_SECONDS);
    const counters: Counter[] = [];
    let start: string | undefined = startKey;
    while (start !== undefined) {
      const page: { rows: DecodedRow[]; nextStartPrimaryKey: Array<{ value: unknown }> | null } =
        await this.#run('getRange', {
          tableName: table,
          direction: TableStore.Direction.FORWARD,
          inclusiveStartPrimaryKey: [{ [PRIMARY_KEY]: start }],
          exclusiveEndPrimaryKey: [{ [PRIMARY_KEY]: endKey }],
          maxVersions: 1,
          limit: 1000,
        });
      for (const row of page.rows) {
        const key = row.primaryKey?.[0]?.value;
        const value = countOf(row);
        if (typeof key === 'string' && value !== undefined) counters.push({ key, value });
      }
      const next = page.nextStartPrimaryKey?.[0]?.value;
      start = typeof next === 'string' ? next : undefined;
    }
    return counters;
  }

  #expect(expectedVersion: number) {
    const { Condition, RowExistenceExpectation, SingleColumnCondition, ComparatorType, Long } = TableStore;
    if (expectedVersion === 0) return new Condition(RowExistenceExpectation.EXPECT_NOT_EXIST, null);
    return new Condition(
      RowExistenceExpectation.EXPECT_EXIST,
      new SingleColumnCondition('version', Long.fromNumber(expectedVersion), ComparatorType.EQUAL, false),
    );
  }

  async close(): Promise<void> {}
}

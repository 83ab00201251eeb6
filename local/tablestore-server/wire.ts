/**
 * Tablestore's wire format, server side: protobuf messages from the SDK's own compiled
 * definitions, rows in the SDK's plain-buffer codec. Only what the state store's operations use.
 */
import TableStore from 'tablestore';
import protocol from 'tablestore/lib/protocol/tablestore_compiled_proto.js';

export const messages = protocol.main.proto;
export const filters = protocol.filter.proto;
const consts = TableStore.plainBufferConsts;

export type CellValue = string | number | boolean | Buffer | bigint;

export interface StoredRow {
  readonly primaryKey: string;
  readonly columns: ReadonlyMap<string, CellValue>;
}

/** Raised for a request the real service would refuse as malformed. */
export class WireError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function cellValue(value: unknown): CellValue {
  if (typeof value === 'object' && value !== null && 'toNumber' in value) {
    return BigInt((value as { toNumber(): number }).toNumber());
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Buffer.isBuffer(value)) return value;
  throw new WireError(400, 'OTSParameterInvalid', 'Unsupported column type.');
}

function sdkValue(value: CellValue): unknown {
  return typeof value === 'bigint' ? TableStore.Long.fromNumber(Number(value)) : value;
}

/**
 * Tablestore's general limits, as it enforces them (bytes): a STRING or BINARY primary key value,
 * a STRING or BINARY attribute value, and one PutRow or UpdateRow request.
 */
export const LIMITS = {
  primaryKeyBytes: 1024,
  attributeValueBytes: 2 * 1024 * 1024,
  writeBytes: 4 * 1024 * 1024,
};

function sizeOf(value: CellValue): number {
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  return Buffer.isBuffer(value) ? value.length : 0;
}

/** Refuses a key or value above the limits with the service's own code and message. */
export function checkSizes(row: StoredRow, primaryKeyName: string): void {
  const keyBytes = sizeOf(row.primaryKey);
  if (keyBytes > LIMITS.primaryKeyBytes) {
    throw new WireError(
      400,
      'OTSParameterInvalid',
      `The length of primary key column: '${primaryKeyName}' exceeds the MaxLength: ${LIMITS.primaryKeyBytes} with CurrentLength: ${keyBytes}.`,
    );
  }
  for (const [name, value] of row.columns) {
    const bytes = sizeOf(value);
    if (bytes > LIMITS.attributeValueBytes) {
      throw new WireError(
        400,
        'OTSParameterInvalid',
        `The length of attribute column: '${name}' exceeded the MaxLength:${LIMITS.attributeValueBytes} with Current Length:${bytes}.`,
      );
    }
  }
}

/** Decodes one plain-buffer row (a primary key, maybe attribute columns) with a single string key. */
export function decodeRow(bytes: Uint8Array, primaryKeyName: string): StoredRow {
  let decoded: TableStore.DecodedRow;
  try {
    const input = new TableStore.PlainBufferInputStream(Buffer.from(bytes));
    decoded = new TableStore.PlainBufferCodedInputStream(input).readRow();
  } catch (error) {
    throw new WireError(400, 'OTSParameterInvalid', `Invalid plain buffer: ${(error as Error).message}`);
  }
  const key = decoded.primaryKey?.[0];
  if (decoded.primaryKey?.length !== 1 || key?.name !== primaryKeyName || typeof key.value !== 'string') {
    throw new WireError(400, 'OTSParameterInvalid', 'Validate PK size fail or PK type mismatch.');
  }
  const columns = new Map<string, CellValue>();
  for (const cell of decoded.attributes ?? []) columns.set(cell.columnName, cellValue(cell.columnValue));
  const row = { primaryKey: key.value, columns };
  checkSizes(row, primaryKeyName);
  return row;
}

/** Encodes rows the way GetRow/GetRange answers carry them: one header, then each row. */
export function encodeRows(rows: readonly StoredRow[], primaryKeyName: string): Buffer {
  const encoded = rows.map((row, index) => {
    const bytes = TableStore.PlainBufferBuilder.serializeForPutRow(
      [{ [primaryKeyName]: row.primaryKey }],
      [...row.columns].map(([name, value]) => ({ [name]: sdkValue(value) })),
    );
    return index === 0 ? bytes : bytes.subarray(consts.LITTLE_ENDIAN_32_SIZE ?? 4);
  });
  return Buffer.concat(encoded);
}

export function encodePrimaryKey(primaryKey: string, primaryKeyName: string): Buffer {
  return TableStore.PlainBufferBuilder.serializePrimaryKey([{ [primaryKeyName]: primaryKey }]);
}

/** A column condition's single value, serialised as the SDK's SQLVariant (type byte + payload). */
function decodeVariant(bytes: Uint8Array): CellValue {
  const input = new TableStore.PlainBufferInputStream(Buffer.from(bytes));
  const type = input.readRawByte();
  if (type === consts.VT_INTEGER) return BigInt(input.readInt64().toNumber());
  if (type === consts.VT_STRING) return input.readUtfString(input.readInt32());
  if (type === consts.VT_BOOLEAN) return input.readRawByte() !== 0;
  throw new WireError(400, 'OTSParameterInvalid', 'Unsupported column condition value type.');
}

export interface ColumnCheck {
  readonly columnName: string;
  readonly comparator: number;
  readonly value: CellValue;
  readonly passIfMissing: boolean;
}

export function decodeColumnCondition(bytes: Uint8Array | undefined): ColumnCheck | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  const filter = filters.Filter?.decode(bytes) as { type: number; filter: Uint8Array };
  if (filter.type !== filters.FilterType.FT_SINGLE_COLUMN_VALUE) {
    throw new WireError(400, 'OTSParameterInvalid', 'Only single column conditions are supported here.');
  }
  const single = filters.SingleColumnValueFilter?.decode(filter.filter) as {
    comparator: number;
    columnName: string;
    columnValue: Uint8Array;
    filterIfMissing: boolean;
  };
  return {
    columnName: single.columnName,
    comparator: single.comparator,
    value: decodeVariant(single.columnValue),
    passIfMissing: !single.filterIfMissing,
  };
}

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
  return { primaryKey: key.value, columns };
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

export type CellChange =
  | { readonly operation: 'put'; readonly columnName: string; readonly value: CellValue }
  | { readonly operation: 'increment'; readonly columnName: string; readonly value: bigint }
  | { readonly operation: 'delete'; readonly columnName: string };

export interface RowChange {
  readonly primaryKey: string;
  readonly changes: readonly CellChange[];
}

/**
 * Decodes UpdateRow's row change by hand: the SDK's own reader cannot (it skips a cell's type
 * tag without reading the type byte, so INCREMENT and DELETE cells throw).
 */
export function decodeRowChange(bytes: Uint8Array, primaryKeyName: string): RowChange {
  const input = Buffer.from(bytes);
  let position = 0;
  const need = (size: number) => {
    if (position + size > input.length) throw new Error('truncated');
  };
  const byte = () => {
    need(1);
    return input.readUInt8(position++);
  };
  const int32 = () => {
    need(4);
    const value = input.readInt32LE(position);
    position += 4;
    return value;
  };
  const slice = (size: number) => {
    need(size);
    const value = input.subarray(position, position + size);
    position += size;
    return value;
  };
  const value = (): CellValue => {
    int32();
    const type = byte();
    if (type === consts.VT_INTEGER) return slice(8).readBigInt64LE(0);
    if (type === consts.VT_STRING) return slice(int32()).toString('utf8');
    if (type === consts.VT_BLOB) return Buffer.from(slice(int32()));
    if (type === consts.VT_BOOLEAN) return byte() !== 0;
    if (type === consts.VT_DOUBLE) return slice(8).readDoubleLE(0);
    throw new Error(`unsupported value type ${type}`);
  };
  const cell = () => {
    if (byte() !== consts.TAG_CELL_NAME) throw new Error('expected a cell name');
    const columnName = slice(int32()).toString('utf8');
    let tag = byte();
    let cellValue: CellValue | undefined;
    let cellType: number | undefined;
    if (tag === consts.TAG_CELL_VALUE) {
      cellValue = value();
      tag = byte();
    }
    if (tag === consts.TAG_CELL_TYPE) {
      cellType = byte();
      tag = byte();
    }
    if (tag === consts.TAG_CELL_TIMESTAMP) {
      slice(8);
      tag = byte();
    }
    if (tag !== consts.TAG_CELL_CHECKSUM) throw new Error('expected a cell checksum');
    byte();
    return { columnName, cellValue, cellType };
  };
  let primaryKey: string | undefined;
  const changes: CellChange[] = [];
  try {
    if (int32() !== consts.HEADER) throw new Error('bad header');
    let tag = byte();
    if (tag !== consts.TAG_ROW_PK) throw new Error('expected the primary key');
    tag = byte();
    while (tag === consts.TAG_CELL) {
      const key = cell();
      if (key.columnName === primaryKeyName && typeof key.cellValue === 'string') primaryKey = key.cellValue;
      else primaryKey = undefined;
      tag = byte();
    }
    if (tag === consts.TAG_ROW_DATA) {
      tag = byte();
      while (tag === consts.TAG_CELL) {
        const { columnName, cellValue, cellType } = cell();
        if (cellType === consts.INCREMENT) {
          if (typeof cellValue !== 'bigint')
            throw new WireError(400, 'OTSParameterInvalid', 'INCREMENT needs an INTEGER value.');
          changes.push({ operation: 'increment', columnName, value: cellValue });
        } else if (cellType === consts.DELETE_ALL_VERSION || cellType === consts.DELETE_ONE_VERSION) {
          changes.push({ operation: 'delete', columnName });
        } else if (cellValue !== undefined) {
          changes.push({ operation: 'put', columnName, value: cellValue });
        } else {
          throw new Error(`cell ${columnName} has no value`);
        }
        tag = byte();
      }
    }
    if (tag !== consts.TAG_ROW_CHECKSUM) throw new Error('expected the row checksum');
  } catch (error) {
    if (error instanceof WireError) throw error;
    throw new WireError(400, 'OTSParameterInvalid', `Invalid plain buffer: ${(error as Error).message}`);
  }
  if (primaryKey === undefined) {
    throw new WireError(400, 'OTSParameterInvalid', 'Validate PK size fail or PK type mismatch.');
  }
  return { primaryKey, changes };
}

/**
 * The request and response messages of the Tablestore operations the state store uses, by
 * field number from Tablestore's published `tablestore.proto` / `tablestore_filter.proto`.
 */
import { encodeVariant } from './plain-buffer';
import { bytesField, ProtoWriter, readMessage, stringField } from './protobuf';

/** RowExistenceExpectation. */
export const ROW_IGNORE = 0;
export const ROW_EXPECT_EXIST = 1;
export const ROW_EXPECT_NOT_EXIST = 2;

export interface RowCondition {
  readonly rowExistence: number;
  /** Single-column check `column == value`; a row without the column fails it. */
  readonly columnEquals?: { readonly column: string; readonly value: bigint };
}

function condition(writer: ProtoWriter, rule: RowCondition): void {
  writer.int(1, rule.rowExistence);
  if (rule.columnEquals) {
    const { column, value } = rule.columnEquals;
    const single = new ProtoWriter()
      .int(1, 1) // CT_EQUAL
      .string(2, column)
      .bytes(3, encodeVariant(value))
      .int(4, true) // filter_if_missing: a missing column fails the check
      .int(5, true) // latest_version_only
      .finish();
    // Filter { type: FT_SINGLE_COLUMN_VALUE, filter: SingleColumnValueFilter }
    writer.bytes(2, new ProtoWriter().int(1, 1).bytes(2, single).finish());
  }
}

/** One STRING primary key column, no reserved throughput, rows never expire, one version. */
/** `timeToLive` in seconds (-1: rows never expire; Tablestore's shortest otherwise is a day). */
export function createTableRequest(table: string, primaryKey: string, timeToLive = -1): Buffer {
  return new ProtoWriter()
    .message(1, (meta) => meta.string(1, table).message(2, (key) => key.string(1, primaryKey).int(2, 2)))
    .message(2, (throughput) => throughput.message(1, (unit) => unit.int(1, 0).int(2, 0)))
    .message(3, (options) => options.int(1, timeToLive).int(2, 1))
    .finish();
}

export function getRowRequest(table: string, primaryKey: Buffer): Buffer {
  return new ProtoWriter().string(1, table).bytes(2, primaryKey).int(5, 1).finish();
}

export function putRowRequest(table: string, row: Buffer, rule: RowCondition): Buffer {
  return new ProtoWriter()
    .string(1, table)
    .bytes(2, row)
    .message(3, (writer) => condition(writer, rule))
    .finish();
}

export function deleteRowRequest(table: string, primaryKey: Buffer, rule: RowCondition): Buffer {
  return putRowRequest(table, primaryKey, rule);
}

/** UpdateRow answering with the named columns as they are after the change (RT_AFTER_MODIFY). */
export function updateRowRequest(
  table: string,
  rowChange: Buffer,
  rule: RowCondition,
  returnColumns: readonly string[],
): Buffer {
  return new ProtoWriter()
    .string(1, table)
    .bytes(2, rowChange)
    .message(3, (writer) => condition(writer, rule))
    .message(4, (content) => {
      content.int(1, 2);
      for (const column of returnColumns) content.string(2, column);
    })
    .finish();
}

export function getRangeRequest(table: string, start: Buffer, end: Buffer, limit: number): Buffer {
  return new ProtoWriter()
    .string(1, table)
    .int(2, 0) // FORWARD
    .int(5, 1)
    .int(6, limit)
    .bytes(7, start)
    .bytes(8, end)
    .finish();
}

/** The plain-buffer row of a GetRow, PutRow or UpdateRow answer (empty when there is none). */
export function rowOf(response: Uint8Array): Buffer {
  return bytesField(readMessage(response), 2) ?? Buffer.alloc(0);
}

export function rangeOf(response: Uint8Array): { rows: Buffer; nextStart: Buffer | undefined } {
  const fields = readMessage(response);
  return { rows: bytesField(fields, 2) ?? Buffer.alloc(0), nextStart: bytesField(fields, 3) };
}

/** Error { code = 1; message = 2 }; the message is the service's and is not shown to users. */
export function errorOf(response: Uint8Array): { code: string | undefined; message: string } {
  const fields = readMessage(response);
  const code = stringField(fields, 1);
  return {
    code: code && /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : undefined,
    // Kept for matching only (the ACL refusal); never echoed whole.
    message: (stringField(fields, 2) ?? '').slice(0, 300),
  };
}

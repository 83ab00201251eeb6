/**
 * UpdateRow for the Tablestore stand-in. The SDK's plain-buffer reader cannot read a cell that
 * carries an operation (it drops the operation byte), so row changes are walked here, byte by
 * byte, with the SDK's own CRC-8 to verify every cell and row checksum as the service does.
 * Supported: put, delete (one or all versions) and INCREMENT of integer columns, a row condition,
 * and ReturnType AFTER_MODIFY with named columns.
 */
import TableStore from 'tablestore';
import { type CellValue, checkSizes, encodeRows, type StoredRow, WireError } from './wire';

const crcByte = (crc: number, byte: number) => TableStore.plainBufferCrc8.crcInt8(crc, byte);
const crcBytes = (crc: number, bytes: Uint8Array) => bytes.reduce(crcByte, crc);

type Operation = 'put' | 'delete' | 'increment';
interface ChangedCell {
  readonly name: string;
  readonly value: CellValue | undefined;
  readonly operation: Operation;
}

const OPERATIONS: Record<number, Operation> = { 1: 'delete', 3: 'delete', 4: 'increment' };

function decodeRowChange(bytes: Uint8Array): { primaryKey: CellValue; name: string; cells: ChangedCell[] } {
  const input = Buffer.from(bytes);
  let offset = 0;
  const invalid = (why: string): never => {
    throw new WireError(400, 'OTSParameterInvalid', `Invalid row change: ${why}.`);
  };
  const take = (length: number) => {
    if (length < 0 || offset + length > input.length) invalid('truncated');
    offset += length;
    return input.subarray(offset - length, offset);
  };
  const byte = () => take(1)[0] ?? 0;
  const cell = (): { name: string; value: CellValue | undefined; operation: Operation; checksum: number } => {
    if (byte() !== 0x03 || byte() !== 0x04) invalid('expected a cell name');
    const name = take(take(4).readInt32LE());
    let checksum = crcBytes(0, name);
    let value: CellValue | undefined;
    if (input[offset] === 0x05) {
      offset += 1;
      const total = take(4).readInt32LE();
      const type = byte();
      checksum = crcByte(checksum, type);
      if (type === 0x00 && total === 9) {
        const raw = take(8);
        value = raw.readBigInt64LE();
        checksum = crcBytes(checksum, raw);
      } else if (type === 0x03) {
        const length = take(4);
        const text = take(length.readInt32LE());
        if (total !== 5 + text.length) invalid('string length mismatch');
        value = text.toString('utf8');
        checksum = crcBytes(crcBytes(checksum, length), text);
      } else invalid(`unsupported value type ${type}`);
    }
    let operation: Operation = 'put';
    let operationByte: number | undefined;
    if (input[offset] === 0x06) {
      offset += 1;
      operationByte = byte();
      operation = OPERATIONS[operationByte] ?? invalid(`unknown cell operation ${operationByte}`);
    }
    if (input[offset] === 0x07) {
      offset += 1;
      checksum = crcBytes(checksum, take(8));
    }
    if (operationByte !== undefined) checksum = crcByte(checksum, operationByte);
    if (byte() !== 0x0a || byte() !== checksum) invalid('cell checksum mismatch');
    return { name: name.toString('utf8'), value, operation, checksum };
  };
  if (take(4).readInt32LE() !== 0x75 || byte() !== 0x01) invalid('bad header');
  const key = cell();
  let rowChecksum = crcByte(0, key.checksum);
  const cells: ChangedCell[] = [];
  if (input[offset] === 0x02) {
    offset += 1;
    while (input[offset] === 0x03) {
      const changed = cell();
      rowChecksum = crcByte(rowChecksum, changed.checksum);
      cells.push(changed);
    }
  }
  rowChecksum = crcByte(rowChecksum, 0);
  if (byte() !== 0x09 || byte() !== rowChecksum || offset !== input.length) invalid('row checksum mismatch');
  if (key.value === undefined) invalid('primary key without value');
  return { primaryKey: key.value as CellValue, name: key.name, cells };
}

/** Applies one UpdateRow to a table's rows; `checkCondition` is the server's row condition check. */
export function updateRow(
  table: { readonly primaryKeyName: string; readonly rows: Map<string, StoredRow> },
  request: Record<string, unknown>,
  checkCondition: (condition: Record<string, unknown> | undefined, row: StoredRow | undefined) => void,
): Record<string, unknown> {
  const change = decodeRowChange(request.rowChange as Uint8Array);
  if (change.name !== table.primaryKeyName || typeof change.primaryKey !== 'string') {
    throw new WireError(400, 'OTSParameterInvalid', 'Validate PK size fail or PK type mismatch.');
  }
  const existing = table.rows.get(change.primaryKey);
  checkCondition(request.condition as Record<string, unknown>, existing);
  const columns = new Map(existing?.columns ?? []);
  for (const cell of change.cells) {
    if (cell.operation === 'delete') columns.delete(cell.name);
    else if (cell.operation === 'put' && cell.value !== undefined) columns.set(cell.name, cell.value);
    else if (cell.operation === 'increment') {
      const before = columns.get(cell.name) ?? 0n;
      if (typeof before !== 'bigint' || typeof cell.value !== 'bigint') {
        throw new WireError(400, 'OTSParameterInvalid', 'Only integer columns can be incremented.');
      }
      columns.set(cell.name, before + cell.value);
    } else throw new WireError(400, 'OTSParameterInvalid', 'A put cell needs a value.');
  }
  const row: StoredRow = { primaryKey: change.primaryKey, columns };
  checkSizes(row, table.primaryKeyName);
  table.rows.set(change.primaryKey, row);
  const wanted = request.returnContent as { returnType?: number; returnColumnNames?: string[] } | undefined;
  if (wanted?.returnType !== 2) return { consumed: { capacityUnit: { read: 0, write: 1 } } };
  const names = new Set(wanted.returnColumnNames ?? []);
  const returned = new Map([...columns].filter(([name]) => names.size === 0 || names.has(name)));
  return {
    consumed: { capacityUnit: { read: 0, write: 1 } },
    row: encodeRows([{ primaryKey: change.primaryKey, columns: returned }], table.primaryKeyName),
  };
}

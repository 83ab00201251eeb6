/**
 * The few protobuf (proto2) wire rules Tablestore's request and response messages need:
 * varints, length-delimited fields and nested messages. Readers treat every byte as hostile:
 * lengths are checked against what is left, varints are capped at 10 bytes, and any wire type
 * the messages we read never carry is refused rather than skipped blindly.
 */

export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Builds one message; fields are written in the order the calls are made. */
export class ProtoWriter {
  readonly #parts: Buffer[] = [];

  #varint(value: bigint): void {
    const bytes: number[] = [];
    let rest = BigInt.asUintN(64, value);
    while (rest > 0x7fn) {
      bytes.push(Number(rest & 0x7fn) | 0x80);
      rest >>= 7n;
    }
    bytes.push(Number(rest));
    this.#parts.push(Buffer.from(bytes));
  }

  #tag(field: number, wireType: number): void {
    this.#varint(BigInt((field << 3) | wireType));
  }

  /** int32, int64, enum and bool fields; negative numbers take ten bytes, as proto2 says. */
  int(field: number, value: number | boolean): this {
    this.#tag(field, VARINT);
    this.#varint(BigInt(typeof value === 'boolean' ? Number(value) : value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, LENGTH_DELIMITED);
    this.#varint(BigInt(value.length));
    this.#parts.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const nested = new ProtoWriter();
    build(nested);
    return this.bytes(field, nested.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

export type FieldValue = bigint | Buffer;

/** Every field of one message by number, last occurrence first-class, repeated ones kept in order. */
export function readMessage(bytes: Uint8Array): Map<number, FieldValue[]> {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const fields = new Map<number, FieldValue[]>();
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let index = 0; index < 10; index += 1) {
      if (offset >= input.length) throw new WireFormatError('protobuf message ends inside a varint');
      const byte = input[offset++] ?? 0;
      value |= BigInt(byte & 0x7f) << BigInt(7 * index);
      if ((byte & 0x80) === 0) return value;
    }
    throw new WireFormatError('protobuf varint longer than 10 bytes');
  };
  const take = (length: number): Buffer => {
    if (length < 0 || offset + length > input.length) {
      throw new WireFormatError('protobuf field runs past the end of the message');
    }
    const slice = input.subarray(offset, offset + length);
    offset += length;
    return slice;
  };
  while (offset < input.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (field < 1 || field > 536_870_911)
      throw new WireFormatError(`protobuf field number ${field} is invalid`);
    let value: FieldValue;
    if (wireType === VARINT) value = varint();
    else if (wireType === LENGTH_DELIMITED) {
      const length = varint();
      if (length > BigInt(input.length))
        throw new WireFormatError('protobuf field runs past the end of the message');
      value = take(Number(length));
    } else if (wireType === FIXED64) value = take(8);
    else if (wireType === FIXED32) value = take(4);
    else throw new WireFormatError(`protobuf wire type ${wireType} is not supported`);
    const list = fields.get(field);
    if (list) list.push(value);
    else fields.set(field, [value]);
  }
  return fields;
}

/** The last value of a length-delimited field (proto2: the last one wins), if present. */
export function bytesField(fields: Map<number, FieldValue[]>, field: number): Buffer | undefined {
  const value = fields.get(field)?.at(-1);
  if (value === undefined) return undefined;
  if (!Buffer.isBuffer(value))
    throw new WireFormatError(`protobuf field ${field} should be length-delimited`);
  return value;
}

export function stringField(fields: Map<number, FieldValue[]>, field: number): string | undefined {
  return bytesField(fields, field)?.toString('utf8');
}

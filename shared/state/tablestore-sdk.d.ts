/**
 * The part of the official `tablestore` SDK (which ships no types) that this project uses: the
 * client for the Tablestore state store, and the SDK's own row codec (plain buffer) that the
 * loopback Tablestore server uses to speak the same wire format.
 */
declare module 'tablestore' {
  namespace TableStore {
    interface Int64 {
      toNumber(): number;
    }

    interface PrimaryKeyCell {
      readonly name: string;
      readonly value: string | Buffer | Int64;
    }

    interface AttributeCell {
      readonly columnName: string;
      readonly columnValue: string | Buffer | Int64 | number | boolean;
      readonly timestamp?: Int64 | undefined;
    }

    interface DecodedRow {
      readonly primaryKey?: PrimaryKeyCell[];
      readonly attributes?: AttributeCell[];
    }

    interface ClientOptions {
      accessKeyId: string;
      secretAccessKey: string;
      stsToken?: string | undefined;
      endpoint: string;
      instancename: string;
      maxRetries?: number;
      httpOptions?: { timeout?: number; maxSockets?: number };
    }

    /** Errors are plain objects: `code` is the HTTP status (or `NetworkingError`), `message` the raw body. */
    interface SdkError extends Error {
      readonly code?: number | string;
      readonly retryable?: boolean;
    }

    type Callback<T> = (error: SdkError | null, data: T) => void;
    type Params = Record<string, unknown>;

    interface Client {
      describeTable(params: Params, callback: Callback<unknown>): void;
      createTable(params: Params, callback: Callback<unknown>): void;
      getRow(params: Params, callback: Callback<{ row: DecodedRow }>): void;
      putRow(params: Params, callback: Callback<unknown>): void;
      updateRow(params: Params, callback: Callback<{ row: DecodedRow }>): void;
      deleteRow(params: Params, callback: Callback<unknown>): void;
      getRange(
        params: Params,
        callback: Callback<{ rows: DecodedRow[]; nextStartPrimaryKey: PrimaryKeyCell[] | null }>,
      ): void;
    }

    interface PlainBufferInputStream {
      readRawByte(): number;
      readInt32(): number;
      readInt64(): Int64;
      readUtfString(size: number): string;
      readBytes(size: number): Buffer;
    }

    interface PlainBufferCodedInputStream {
      readRow(): DecodedRow;
      readRows(): DecodedRow[];
    }

    /** Opaque SDK objects handed back to the SDK. */
    interface Condition {
      readonly rowExistenceExpectation: number;
    }
    interface SingleColumnCondition {
      readonly columnName: string;
    }
  }

  const TableStore: {
    Client: new (options: TableStore.ClientOptions) => TableStore.Client;
    Condition: new (
      rowExistence: number,
      columnCondition: TableStore.SingleColumnCondition | null,
    ) => TableStore.Condition;
    SingleColumnCondition: new (
      columnName: string,
      columnValue: TableStore.Int64 | string,
      comparator: number,
      passIfMissing?: boolean,
      latestVersionOnly?: boolean,
    ) => TableStore.SingleColumnCondition;
    RowExistenceExpectation: { IGNORE: 0; EXPECT_EXIST: 1; EXPECT_NOT_EXIST: 2 };
    ComparatorType: { EQUAL: number };
    ReturnType: { NONE: 0; Primarykey: 1; AfterModify: 2 };
    Direction: { FORWARD: 'FORWARD'; BACKWARD: 'BACKWARD' };
    Long: { fromNumber(value: number): TableStore.Int64 };
    PlainBufferInputStream: new (buffer: Buffer) => TableStore.PlainBufferInputStream;
    PlainBufferCodedInputStream: new (
      stream: TableStore.PlainBufferInputStream,
    ) => TableStore.PlainBufferCodedInputStream;
    PlainBufferBuilder: {
      serializePrimaryKey(primaryKey: Array<Record<string, unknown>>): Buffer;
      serializeForPutRow(
        primaryKey: Array<Record<string, unknown>>,
        attributeColumns: Array<Record<string, unknown>>,
      ): Buffer;
    };
    plainBufferConsts: Record<string, number>;
    plainBufferCrc8: {
      crcInt8(checksum: number, value: number): number;
      crcString(checksum: number, value: string): number;
      crcInt64Buf(checksum: number, value: Buffer): number;
    };
  };

  export = TableStore;
}

declare module 'tablestore/lib/protocol/tablestore_compiled_proto.js' {
  interface MessageType {
    decode(bytes: Uint8Array): Record<string, unknown>;
    encode(message: Record<string, unknown>): { finish(): Uint8Array };
  }

  const root: {
    main: { proto: Record<string, MessageType> & { TableStatus: Record<string, number> } };
    filter: { proto: Record<string, MessageType> & { FilterType: Record<string, number> } };
  };
  export = root;
}

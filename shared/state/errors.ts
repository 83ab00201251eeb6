/** A state store that cannot read or write. `retryable` when trying again later may work. */
export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  readonly code: string;
  readonly retryable: boolean;
  /** The configuration variable at fault (STATE_URL, TABLESTORE_ENDPOINT), when one is. */
  readonly variable: string | undefined;
  /** The store's own id for the failed request (Tablestore's `x-ots-requestid`), for its support. */
  readonly requestId: string | undefined;

  constructor(
    code: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown; variable?: string; requestId?: string | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.variable = options.variable;
    this.requestId = options.requestId;
  }
}

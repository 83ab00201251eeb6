/** The command line or the environment does not describe an invocation we can make (exit 2). */
export class InvokeUsageError extends Error {
  readonly code: 'InvalidUsage' | 'MissingCredentials' | 'MissingAccountId' | 'InvalidSetting';
  constructor(code: InvokeUsageError['code'], message: string) {
    super(message);
    this.name = 'InvokeUsageError';
    this.code = code;
  }
}

/** The FC API refused the call (4xx/5xx from InvokeFunction itself, not from the function). */
export class InvokeApiError extends Error {
  readonly code: string;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  constructor(options: {
    code: string;
    message: string;
    httpStatus?: number;
    requestId?: string;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'InvokeApiError';
    this.code = options.code;
    this.httpStatus = options.httpStatus;
    this.requestId = options.requestId;
  }
}

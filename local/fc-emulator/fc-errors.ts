/**
 * What FC answers instead of a handler's value, in the shape its HTTP trigger sends: a status, the
 * `X-Fc-Error-Type` header and a JSON body.
 */
export type FcErrorType = 'FcCommonError' | 'UnhandledInvocationError';

/** What FC answers instead of the handler's value; `statusCode` is what an HTTP trigger sends. */
export interface FcInvocationError {
  readonly statusCode: 429 | 502;
  /** FC's `X-Fc-Error-Type` header. */
  readonly errorType: FcErrorType;
  readonly body: { readonly errorCode?: string; readonly errorType?: string; readonly errorMessage: string };
}

/**
 * FC's throttling answer. The status 429 with `X-Fc-Error-Type: FcCommonError` (HTTP trigger
 * troubleshooting table) and the `{errorCode, errorMessage}` body (FC error codes page) are
 * documented; the code and message are the ones FC has been seen to give when a function's
 * reserved concurrency is used up — FC 3.0's published tables do not list them, so callers
 * should branch on the status, not on this text.
 */
export const THROTTLED: FcInvocationError = {
  statusCode: 429,
  errorType: 'FcCommonError',
  body: { errorCode: 'ResourceThrottled', errorMessage: 'Reserve resource exhausted' },
};

export function unhandled(errorType: string, errorMessage: string): FcInvocationError {
  return { statusCode: 502, errorType: 'UnhandledInvocationError', body: { errorType, errorMessage } };
}

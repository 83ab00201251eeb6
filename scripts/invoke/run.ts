import { Readable } from 'node:stream';
import { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { type AnswerSeen, seeingAnswer } from './answer-seen';
import { fcClientFor, runtimeOptions } from './client';
import { InvokeApiError } from './errors';
import type { InvokeOptions } from './options';

export interface InvokeResult {
  functionName: string;
  statusCode: number;
  requestId: string | undefined;
  body: string;
  /** Decoded x-fc-log-result: the tail of the function's log for this invocation. */
  logTail: string;
  /** x-fc-error-type, set by FC when the handler threw or timed out. */
  errorType: string | undefined;
}

/**
 * Invokes a deployed FC 3.0 function synchronously through the FC 3.0 SDK (@alicloud/fc20230330),
 * which addresses functions by name — FC 3.0 has no services, so FC 2.0's @alicloud/fc2 cannot.
 */
export async function invoke(options: InvokeOptions): Promise<InvokeResult> {
  const client = fcClientFor(options);
  const request = new InvokeFunctionRequest({
    body: Readable.from([Buffer.from(options.event)]),
    ...(options.qualifier ? { qualifier: options.qualifier } : {}),
  });
  // Tail: FC returns the last 4 KB of the invocation's log, base64, in x-fc-log-result.
  const headers = new InvokeFunctionHeaders({ xFcLogType: 'Tail', xFcInvocationType: 'Sync' });
  const runtime = runtimeOptions(options.timeoutMs);

  const response = await seeingAnswer(
    () => client.invokeFunctionWithOptions(options.functionName, request, headers, runtime),
    (error, answer) => apiError(options.functionName, error, 'InvokeFunction', options, answer),
  );
  const responseHeaders = response.headers ?? {};
  return {
    functionName: options.functionName,
    statusCode: response.statusCode ?? 0,
    requestId: responseHeaders['x-fc-request-id'],
    body: response.body ? await readAll(response.body) : '',
    logTail: Buffer.from(responseHeaders['x-fc-log-result'] ?? '', 'base64').toString('utf8'),
    errorType: responseHeaders['x-fc-error-type'],
  };
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

/** Where a call went, for messages that say what to check. */
export type CallTarget = Pick<InvokeOptions, 'endpoint' | 'protocol' | 'regionId'> &
  Partial<Pick<InvokeOptions, 'nameVariable'>>;

const NOT_FOUND_CODES = new Set(['FunctionNotFound', 'TriggerNotFound']);

function notFoundHint(target: CallTarget): string {
  const nameVariable = target.nameVariable ?? 'DEPLOY_HTTP_FUNCTION_NAME / DEPLOY_POLLER_FUNCTION_NAME';
  return ` — nothing by that name in region ${target.regionId} at ${target.protocol}://${target.endpoint}: check DEPLOY_REGION, ${nameVariable}, and ALIBABA_CLOUD_ACCOUNT_ID (or DEPLOY_FC_ENDPOINT) against where s deploy put it`;
}

const definedString = (value: unknown) =>
  typeof value === 'string' && value !== '' && value !== 'undefined' ? value : undefined;

/**
 * The SDK's errors carry code/statusCode/requestId from FC's JSON error, and a message that is
 * safe (no credentials in it). An answer that is not FC's JSON error (a gateway's HTML 502, an
 * empty 403, a proxy's 429) reaches us as the SDK's bare SyntaxError; its status line comes from
 * `answer` (answer-seen.ts), so 429 stays a 429 the smoke check retries.
 */
export function apiError(
  functionName: string,
  error: unknown,
  action: string,
  target: CallTarget,
  answer?: AnswerSeen,
): InvokeApiError {
  const details = (error ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    requestId?: unknown;
    message?: unknown;
  };
  const reason = typeof details.message === 'string' ? details.message : String(error);
  if (typeof details.statusCode !== 'number' && answer !== undefined && answer.status >= 400) {
    const requestId = answer.requestId;
    return new InvokeApiError({
      code: 'UnexpectedAnswer',
      message: `${action} ${functionName} failed: UnexpectedAnswer (HTTP ${answer.status}) from ${target.protocol}://${target.endpoint}, request id ${requestId ?? '(none)'}: the answer is not FC's JSON error (a proxy or gateway in between, or DEPLOY_FC_ENDPOINT pointing at something else?): ${reason}`,
      httpStatus: answer.status,
      ...(requestId ? { requestId } : {}),
      cause: error,
    });
  }
  const httpStatus = typeof details.statusCode === 'number' ? details.statusCode : undefined;
  const code = definedString(details.code) ?? 'InvokeFailed';
  const requestId = definedString(details.requestId) ?? answer?.requestId;
  const hint = NOT_FOUND_CODES.has(code) ? notFoundHint(target) : '';
  return new InvokeApiError({
    code,
    message: `${action} ${functionName} failed: ${code}${httpStatus ? ` (HTTP ${httpStatus})` : ''}: ${reason}${hint}`,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    ...(requestId ? { requestId } : {}),
    cause: error,
  });
}

import { Readable } from 'node:stream';
import type FcClient from '@alicloud/fc20230330';
import { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
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

  let response: Awaited<ReturnType<FcClient['invokeFunctionWithOptions']>>;
  try {
    response = await client.invokeFunctionWithOptions(options.functionName, request, headers, runtime);
  } catch (error) {
    throw apiError(options.functionName, error);
  }
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

// The SDK's errors carry code/statusCode/requestId; its message is safe (no credentials in it).
export function apiError(functionName: string, error: unknown, action = 'InvokeFunction'): InvokeApiError {
  const details = (error ?? {}) as {
    code?: unknown;
    statusCode?: unknown;
    requestId?: unknown;
    message?: unknown;
  };
  const httpStatus = typeof details.statusCode === 'number' ? details.statusCode : undefined;
  const code =
    typeof details.code === 'string' && details.code !== 'undefined' ? details.code : 'InvokeFailed';
  const requestId =
    typeof details.requestId === 'string' && details.requestId !== 'undefined'
      ? details.requestId
      : undefined;
  const reason = typeof details.message === 'string' ? details.message : String(error);
  return new InvokeApiError({
    code,
    message: `${action} ${functionName} failed: ${code}${httpStatus ? ` (HTTP ${httpStatus})` : ''}: ${reason}`,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    ...(requestId ? { requestId } : {}),
    cause: error,
  });
}

import { InvokeApiError, type InvokeOptions, invoke } from '../invoke/index';

/** What /healthz answered, however it was reached. */
export interface HealthAnswer {
  readonly status: number;
  readonly body: string;
}

/** GET <url>/healthz, unsigned, as any caller of an anonymous trigger sends it. */
export async function healthThroughUrl(url: string): Promise<HealthAnswer> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) });
  return { status: response.status, body: await response.text() };
}

/**
 * GET /healthz as an HTTP-trigger event handed to the function by InvokeFunction, signed with the
 * deployer's keys by the FC SDK: the way past a trigger with `authType: function`, which refuses
 * any request without FC's signature in its Authorization header. FC's 429 (every instance busy)
 * comes back as status 429, as it would through the trigger.
 */
export async function healthByInvoke(options: InvokeOptions): Promise<HealthAnswer> {
  let result: Awaited<ReturnType<typeof invoke>>;
  try {
    result = await invoke(options);
  } catch (error) {
    if (error instanceof InvokeApiError && error.httpStatus === 429) return { status: 429, body: '' };
    throw error;
  }
  if (result.errorType) {
    throw new Error(
      `InvokeFunction ${result.functionName}: the function failed (${result.errorType}, request id ${result.requestId ?? 'none'})`,
    );
  }
  let answer: { statusCode?: unknown; body?: unknown; isBase64Encoded?: unknown } | undefined;
  try {
    answer = JSON.parse(result.body) as typeof answer;
  } catch {
    answer = undefined;
  }
  if (typeof answer?.statusCode !== 'number') {
    throw new Error(`InvokeFunction ${result.functionName}: the answer is not an HTTP response`);
  }
  const body = typeof answer.body === 'string' ? answer.body : '';
  return {
    status: answer.statusCode,
    body: answer.isBase64Encoded === true ? Buffer.from(body, 'base64').toString('utf8') : body,
  };
}

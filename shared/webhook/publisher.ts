import type { Dispatcher } from 'undici';
import { type Clock, systemClock } from '../clock';
import { loadUndici } from '../load-undici';
import { dingtalkFormat } from './formats/dingtalk';
import { feishuFormat } from './formats/feishu';
import { metaFormat } from './formats/meta';
import { slackFormat } from './formats/slack';
import { standardFormat } from './formats/standard';
import { parseRetryAfter } from './retry-after';
import type { DeliveryOutcome, FlowEvent, FormatAdapter, WebhookEndpoint, WebhookFormat } from './types';

const FORMATS: Record<WebhookFormat, FormatAdapter> = {
  standard: standardFormat,
  meta: metaFormat,
  dingtalk: dingtalkFormat,
  feishu: feishuFormat,
  slack: slackFormat,
};

const MAX_BODY_BYTES = 64 * 1024;

export interface WebhookPublisherOptions {
  /** Whole-attempt timeout, measured on `clock`; default 10 s. */
  timeoutMs?: number;
  /** Stamps signatures and times the attempt, so a run in virtual time sees a hang cost what it costs. */
  clock?: Clock;
  /** Defaults to one keep-alive Agent per publisher. */
  dispatcher?: Dispatcher;
}

export interface WebhookPublisher {
  /** Never throws for delivery failures: every failure is an outcome. */
  deliver(
    event: FlowEvent,
    endpoint: WebhookEndpoint,
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryOutcome>;
}

export function createWebhookPublisher(options: WebhookPublisherOptions = {}): WebhookPublisher {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  let dispatcher = options.dispatcher;

  async function deliver(
    event: FlowEvent,
    endpoint: WebhookEndpoint,
    deliverOptions: { signal?: AbortSignal } = {},
  ): Promise<DeliveryOutcome> {
    const format = FORMATS[endpoint.format];
    const outgoing = format.build(event, endpoint, clock.now());
    const timeout = new AbortController();
    const timer = new AbortController();
    clock.sleep(timeoutMs, timer.signal).then(
      () => timeout.abort(),
      () => undefined,
    );
    const signal = deliverOptions.signal
      ? AbortSignal.any([deliverOptions.signal, timeout.signal])
      : timeout.signal;
    try {
      // undici's request never follows redirects: a 3xx is judged below as a failure.
      const url = new URL(outgoing.url);
      const { Agent, request } = await loadUndici();
      dispatcher ??= new Agent({
        keepAliveTimeout: 30_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const response = await request(dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: outgoing.headers,
        body: outgoing.body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const bodyText = await readBounded(response.body);
      return judge(format, response.statusCode, response.headers['retry-after'], bodyText, clock.now());
    } catch (error) {
      return { kind: 'retry', reason: describeFailure(error, timeout.signal, deliverOptions.signal) };
    } finally {
      timer.abort();
    }
  }

  return { deliver };
}

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < MAX_BODY_BYTES) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function judge(
  format: FormatAdapter,
  httpStatus: number,
  retryAfter: string | string[] | undefined,
  bodyText: string,
  nowMs: number,
): DeliveryOutcome {
  if (httpStatus >= 200 && httpStatus < 300) {
    return format.judgeSuccess
      ? format.judgeSuccess(httpStatus, bodyText)
      : { kind: 'delivered', httpStatus };
  }
  if (httpStatus === 410) return { kind: 'gone', httpStatus: 410 };
  if (httpStatus >= 300 && httpStatus < 400) {
    return {
      kind: 'retry',
      httpStatus,
      reason: `HTTP ${httpStatus}: redirects are not followed; fix the webhook URL`,
    };
  }
  const retryAfterMs = parseRetryAfter(retryAfter, nowMs);
  // A receiver that verifies signatures answers 401/403 when WEBHOOK_SECRET is not its secret.
  const reason =
    httpStatus === 401 || httpStatus === 403
      ? `HTTP ${httpStatus}: the receiver refused the request; check that WEBHOOK_SECRET is the receiver's secret`
      : `HTTP ${httpStatus}`;
  return retryAfterMs === undefined
    ? { kind: 'retry', httpStatus, reason }
    : { kind: 'retry', httpStatus, retryAfterMs, reason };
}

/** Error messages of undici may quote the url; reasons only use codes we choose. */
function describeFailure(
  error: unknown,
  timeout: AbortSignal,
  callerSignal: AbortSignal | undefined,
): string {
  if (callerSignal?.aborted) return 'aborted by caller';
  const code = (error as { code?: unknown } | null)?.code;
  if (timeout.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return 'timeout';
  return typeof code === 'string' ? `connection failed: ${code}` : 'connection failed';
}

import type { Dispatcher } from 'undici';
import { type Clock, systemClock, within } from '../clock';
import { loadUndici } from '../load-undici';
import { dingtalkFormat } from './formats/dingtalk';
import { feishuFormat } from './formats/feishu';
import { metaFormat } from './formats/meta';
import { slackFormat } from './formats/slack';
import { standardFormat } from './formats/standard';
import { parseRetryAfter } from './retry-after';
import type {
  DeliveryOutcome,
  FlowEvent,
  FormatAdapter,
  WebhookEndpoint,
  WebhookFormat,
  WebhookRequest,
} from './types';

const FORMATS: Record<WebhookFormat, FormatAdapter> = {
  standard: standardFormat,
  meta: metaFormat,
  dingtalk: dingtalkFormat,
  feishu: feishuFormat,
  slack: slackFormat,
};

const MAX_BODY_BYTES = 64 * 1024;
/** The low end of the 15–30 s webhook services use; the poller's delivery lease is derived from it. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;

export interface WebhookPublisherOptions {
  /** Whole-attempt timeout, measured on `clock`; default DEFAULT_WEBHOOK_TIMEOUT_MS (15 s). */
  timeoutMs?: number;
  /**
   * How long an answer's body is read when the verdict does not depend on it (every status
   * but a robot's 2xx); default 1 s. Reading it only lets the connection be reused.
   */
  drainMs?: number;
  /** Stamps signatures and times the attempt, so a run in virtual time sees a hang cost what it costs. */
  clock?: Clock;
  /** Defaults to one keep-alive Agent per publisher. */
  dispatcher?: Dispatcher;
}

export interface WebhookPublisher {
  /** Never throws: every failure, including an event that cannot be built, is an outcome. */
  deliver(
    event: FlowEvent,
    endpoint: WebhookEndpoint,
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryOutcome>;
}

export function createWebhookPublisher(options: WebhookPublisherOptions = {}): WebhookPublisher {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const drainMs = options.drainMs ?? 1_000;
  const clock = options.clock ?? systemClock;
  let dispatcher = options.dispatcher;

  async function deliver(
    event: FlowEvent,
    endpoint: WebhookEndpoint,
    deliverOptions: { signal?: AbortSignal } = {},
  ): Promise<DeliveryOutcome> {
    const format = FORMATS[endpoint.format];
    let outgoing: WebhookRequest;
    try {
      outgoing = format.build(event, endpoint, clock.now());
    } catch (error) {
      return { kind: 'retry', reason: describeBuildFailure(endpoint.format, error), isUnsent: true };
    }
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
      return await send(format, outgoing, signal, timeout.signal, deliverOptions.signal);
    } finally {
      timer.abort();
    }
  }

  /** One attempt, from the request to the verdict, within the attempt's `signal`. */
  async function send(
    format: FormatAdapter,
    outgoing: WebhookRequest,
    signal: AbortSignal,
    timeout: AbortSignal,
    callerSignal: AbortSignal | undefined,
  ): Promise<DeliveryOutcome> {
    let response: Dispatcher.ResponseData;
    try {
      // undici's request never follows redirects: a 3xx is judged below as a failure.
      const url = new URL(outgoing.url);
      const { Agent, request } = await loadUndici();
      dispatcher ??= new Agent({
        keepAliveTimeout: 30_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      response = await request(dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: outgoing.headers,
        body: outgoing.body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      return { kind: 'retry', reason: describeFailure(error, timeout, callerSignal) };
    }
    const { statusCode, headers, body } = response;
    if (!isSuccess(statusCode) || !format.judgeSuccess) {
      // The status decides: a receiver that said 2xx has the event, however slowly its body comes.
      // On `clock`, like the attempt: a body still coming after drainMs is cut off (its connection closed).
      const drained = await within(
        clock,
        drainMs,
        readBounded(body).catch(() => ''),
      );
      if (drained === undefined) body.destroy();
      return judge(format, statusCode, headers['retry-after'], '', clock.now());
    }
    let bodyText: string;
    try {
      bodyText = await readBounded(body);
    } catch (error) {
      // A robot's 2xx carries its verdict in the body: without it we cannot tell a posted message
      // from a refused one. Sending again may post it twice; not sending may lose it (see docs).
      return {
        kind: 'retry',
        httpStatus: statusCode,
        reason: `HTTP ${statusCode} but its body did not arrive (${describeFailure(error, timeout, callerSignal)}); the robot may have posted the message, sent again with the same id`,
      };
    }
    return judge(format, statusCode, headers['retry-after'], bodyText, clock.now());
  }

  return { deliver };
}

/**
 * At most MAX_BODY_BYTES of an answer: past that it says nothing a verdict needs, and leaving the
 * loop destroys the stream (and its connection) instead of reading a huge body to its end.
 * Rejects when the request's signal aborts first, or the stream is destroyed.
 */
async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= MAX_BODY_BYTES) break;
  }
  return Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8');
}

function isSuccess(httpStatus: number): boolean {
  return httpStatus >= 200 && httpStatus < 300;
}

function judge(
  format: FormatAdapter,
  httpStatus: number,
  retryAfter: string | string[] | undefined,
  bodyText: string,
  nowMs: number,
): DeliveryOutcome {
  if (isSuccess(httpStatus)) {
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
  const reason =
    httpStatus === 401 || httpStatus === 403 ? refusalReason(format, httpStatus) : `HTTP ${httpStatus}`;
  return retryAfterMs === undefined
    ? { kind: 'retry', httpStatus, reason }
    : { kind: 'retry', httpStatus, retryAfterMs, reason };
}

/**
 * A receiver that verifies a signature header answers 401/403 when WEBHOOK_SECRET is not its secret;
 * for the robots (no such header) the URL's token or the receiver's access rules are what to check.
 */
function refusalReason(format: FormatAdapter, httpStatus: number): string {
  const advice = format.hasSignatureHeader
    ? "check that WEBHOOK_SECRET is the receiver's secret"
    : "check the webhook URL (its token) and the receiver's access rules";
  return `HTTP ${httpStatus}: the receiver refused the request; ${advice}`;
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

/**
 * A schema-valid stored event always builds, so a throw here is a defect of ours: kept owed and
 * retried (a fixed deployment then sends it, in order, under its id) rather than dead-lettered.
 * Only the error's name: a message may quote the url.
 */
function describeBuildFailure(format: WebhookFormat, error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  return `the ${format} request for this event cannot be built (${name}); kept and retried, please report it`;
}

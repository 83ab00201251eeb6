import { randomUUID } from 'node:crypto';
import type { buildConnector, Dispatcher } from 'undici';
import type * as z from 'zod/mini';
import { type Clock, systemClock } from '../clock';
import { loadUndici, type UndiciParts } from '../load-undici';
import {
  type CallSecrets,
  type CamsAction,
  CamsError,
  isThrottlingCode,
  type LocalCamsCode,
  safeRequestId,
  safeUpstreamCode,
  safeUpstreamMessage,
} from './errors';
import { type LimiterSlot, RateLimiter, RateLimitWaitTooLongError } from './rate-limiter';
import { backoffDelayMs } from './retry-timing';
import { buildRpcRequest } from './rpc-request';
import { envelopeSchema, getFlowResponseSchema, listFlowResponseSchema } from './schemas';
import type { CallOptions, CallSlot, CamsClient, Flow, FlowPage, GetFlowInput, ListFlowInput } from './types';
import { validateCustSpaceId, validateFlowId } from './validate';

export { CAMS_API_VERSION } from './api-version';
export const DEFAULT_CAMS_ENDPOINT = 'https://cams.ap-southeast-1.aliyuncs.com';

export interface CamsTimeouts {
  readonly connectMs?: number | undefined;
  readonly headersMs?: number | undefined;
  readonly bodyMs?: number | undefined;
  /** Ceiling for one attempt, from sending to the last body byte. */
  readonly callMs?: number | undefined;
}

export interface CamsClientOptions {
  readonly endpoint?: string | undefined;
  /** GetFlow/ListFlow calls per rolling second this client may start. CAMS allows 5 per account. */
  readonly qps?: number | undefined;
  readonly maxAttempts?: number | undefined;
  readonly clock?: Clock | undefined;
  /** Jitter source in [0, 1). */
  readonly random?: (() => number) | undefined;
  readonly nonce?: (() => string) | undefined;
  readonly dispatcher?: Dispatcher | undefined;
  /**
   * For tests (a connection slow to set up): the connector the client's own Agent wraps to see
   * new connections. Default: undici's, with `timeouts.connectMs`. Unused when `dispatcher` is given.
   */
  readonly connector?: buildConnector.connector | undefined;
  readonly timeouts?: CamsTimeouts | undefined;
  /** Share one limiter between clients that share a budget. */
  readonly limiter?: RateLimiter | undefined;
}

/** Below this much time left, an attempt cannot plausibly finish and is not started. */
const MIN_ATTEMPT_MS = 50;
const MAX_BODY_MB = 1;
const MAX_BODY_BYTES = MAX_BODY_MB * 1024 * 1024;
const USER_AGENT = 'cams-flow-watch (+https://github.com/) undici';
const THROTTLE_BACKOFF = { baseMs: 500, capMs: 5000 };
const ERROR_BACKOFF = { baseMs: 200, capMs: 5000 };

const DEFAULT_TIMEOUTS = { connectMs: 3000, headersMs: 5000, bodyMs: 5000, callMs: 8000 } as const;

const TIMEOUT_ERROR_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

interface Attempt {
  readonly action: CamsAction;
  readonly target: string;
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

/** What is wrong with an answer that passed its schema but cannot answer this call, if anything. */
type AnswerCheck<S extends z.ZodMiniType> = (answer: z.infer<S>) => string | undefined;

export function createCamsClient(options: CamsClientOptions = {}): CamsClient {
  const endpoint = new URL(options.endpoint ?? DEFAULT_CAMS_ENDPOINT);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  // randomUUID draws from a cached entropy pool; randomBytes per call costs a syscall each time.
  const nonce = options.nonce ?? randomUUID;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  /** A call may ask for fewer attempts (a share it must stay within), never for more. */
  const attemptsAllowed = ({ maxAttempts: asked }: CallOptions) =>
    asked !== undefined && Number.isFinite(asked)
      ? Math.min(maxAttempts, Math.max(1, Math.floor(asked)))
      : maxAttempts;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...definedOnly(options.timeouts ?? {}) };
  const limiter = options.limiter ?? new RateLimiter({ limit: options.qps ?? 5, clock });
  let transport: { readonly request: UndiciParts['request']; readonly dispatcher: Dispatcher } | undefined;
  /** The budget slots of this client's attempts in flight, told of every new connection. */
  const inFlight = new Set<CallSlot>();

  /**
   * undici loads on the first call (see load-undici.ts), before that call takes its rate-limit
   * slot: a slot is stamped when granted, so the request must start right after it, not after
   * loading a module.
   */
  async function loadTransport() {
    if (transport) return transport;
    const { Agent, buildConnector, request } = await loadUndici();
    transport = {
      request,
      dispatcher:
        options.dispatcher ??
        new Agent({
          connect: watchConnections(options.connector ?? buildConnector({ timeout: timeouts.connectMs })),
          headersTimeout: timeouts.headersMs,
          bodyTimeout: timeouts.bodyMs,
          keepAliveTimeout: 30_000,
        }),
    };
    return transport;
  }

  /**
   * The budget stamps a call when its slot is decided, and its reach covers an arrival only up to
   * the decision time after that; a cold connection (DNS, TCP, TLS to CAMS's endpoint: 200–500 ms
   * from a distant region) puts the arrival later. The request is written as soon as its
   * connection is up, so each slot in flight hears of it then (which attempt the connection is for
   * is not known: telling them all can only over-count). Reused connections cost nothing.
   */
  function watchConnections(connector: buildConnector.connector): buildConnector.connector {
    return (connectOptions, callback) =>
      connector(connectOptions, (...result) => {
        if (result[0] === null) {
          const connectedAt = clock.now();
          for (const slot of inFlight) slot.connected?.(connectedAt);
        }
        callback(...result);
      });
  }

  function fail(
    attempt: Attempt,
    code: LocalCamsCode | string,
    details: Partial<ConstructorParameters<typeof CamsError>[0]> = {},
  ) {
    return new CamsError({
      action: attempt.action,
      target: attempt.target,
      code,
      retryable: details.retryable ?? false,
      ...details,
    });
  }

  async function send<S extends z.ZodMiniType>(
    attempt: Attempt,
    schema: S,
    check: AnswerCheck<S> | undefined,
    callOptions: CallOptions,
    attemptSignal: AbortSignal,
  ) {
    const built = buildRpcRequest({
      endpoint,
      action: attempt.action,
      fields: attempt.fields,
      credentials: callOptions.credentials,
      nowMs: clock.now(),
      nonce: nonce(),
    });
    let response: Dispatcher.ResponseData<unknown>;
    try {
      const { request, dispatcher } = transport ?? (await loadTransport());
      // Straight to the pool with origin and path: no URL parsing per call.
      response = await request(dispatcher, {
        origin: endpoint.origin,
        path: '/',
        method: 'POST',
        headers: { ...built.headers, 'user-agent': USER_AGENT },
        body: built.body,
        signal: attemptSignal,
      });
    } catch (error) {
      throw transportError(attempt, error, callOptions.signal);
    }
    let text: string | undefined;
    try {
      text = await readLimited(response.body);
    } catch (error) {
      throw transportError(attempt, error, callOptions.signal);
    }
    const requestId = response.headers['x-acs-request-id'];
    return interpret(
      attempt,
      response.statusCode,
      text,
      typeof requestId === 'string' ? requestId : undefined,
      schema,
      check,
      callOptions.credentials,
    );
  }

  function transportError(
    attempt: Attempt,
    error: unknown,
    callerSignal: AbortSignal | undefined,
  ): CamsError {
    if (callerSignal?.aborted) return fail(attempt, 'DeadlineExceeded', { cause: error });
    const code = errorCodeOf(error);
    const name = error instanceof Error ? error.name : '';
    if (name === 'TimeoutError' || name === 'AbortError' || (code && TIMEOUT_ERROR_CODES.has(code))) {
      return fail(attempt, 'Timeout', { retryable: true, cause: error });
    }
    return fail(attempt, 'ConnectionFailed', { retryable: true, cause: error, upstreamMessage: code });
  }

  function interpret<S extends z.ZodMiniType>(
    attempt: Attempt,
    httpStatus: number,
    text: string | undefined,
    headerRequestId: string | undefined,
    schema: S,
    check: AnswerCheck<S> | undefined,
    credentials: CallOptions['credentials'],
  ): z.infer<S> {
    let json: unknown;
    try {
      json = text === undefined ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const envelope = envelopeSchema().safeParse(json);
    const secrets = secretsOf(credentials);
    const requestId =
      safeRequestId(envelope.success ? envelope.data.RequestId : undefined, secrets) ??
      safeRequestId(headerRequestId, secrets);
    const code = envelope.success ? envelope.data.Code : undefined;
    const isOk = httpStatus >= 200 && httpStatus < 300;
    if (code && code !== 'OK') {
      return throwUpstream(
        attempt,
        safeUpstreamCode(code, secrets),
        httpStatus,
        requestId,
        safeUpstreamMessage(envelope.data?.Message ?? undefined, secrets),
      );
    }
    if (!isOk) {
      throw fail(attempt, 'HttpError', {
        httpStatus,
        requestId,
        retryable: httpStatus >= 500 || httpStatus === 429,
        upstreamMessage: `HTTP ${httpStatus}`,
      });
    }
    const invalid = (problem: string) =>
      fail(attempt, 'InvalidResponse', { httpStatus, requestId, upstreamMessage: problem });
    // A body cut at the cap is no proxy page: say so, or the operator looks for the wrong fault.
    if (text === undefined) throw invalid(`body larger than the ${MAX_BODY_MB} MB this client reads`);
    if (json === undefined) throw invalid('body is not JSON');
    // The reference: a 2xx is a success only with Code "OK"; one without a Code proves nothing.
    if (!envelope.success) throw invalid(summariseIssues(envelope.error));
    if (code !== 'OK') throw invalid(`a ${httpStatus} answer without Code (success is Code "OK")`);
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw invalid(summariseIssues(parsed.error));
    const problem = check?.(parsed.data);
    if (problem !== undefined) throw invalid(problem);
    return parsed.data;
  }

  function throwUpstream(
    attempt: Attempt,
    code: string,
    httpStatus: number,
    requestId: string | undefined,
    message: string | undefined,
  ): never {
    throw fail(attempt, code, {
      httpStatus,
      requestId,
      upstreamMessage: message,
      retryable: isThrottlingCode(code) || httpStatus >= 500 || code === 'SignatureNonceUsed',
    });
  }

  async function call<S extends z.ZodMiniType>(
    attempt: Attempt,
    schema: S,
    callOptions: CallOptions,
    check?: AnswerCheck<S>,
  ): Promise<z.infer<S>> {
    const { signal, deadlineMs } = callOptions;
    await loadTransport();
    for (let number = 1; ; number += 1) {
      const latestStartAt = deadlineMs === undefined ? undefined : deadlineMs - MIN_ATTEMPT_MS;
      let limiterSlot: LimiterSlot | undefined;
      let budgetSlot: CallSlot | undefined;
      try {
        limiterSlot = await limiter.acquire({ signal, latestStartAt });
        budgetSlot = await callOptions.budget?.acquire({ signal, latestStartAt });
      } catch (error) {
        // Nothing was sent: the limiter's token costs nothing, not a window from now.
        limiterSlot?.release();
        if (error instanceof RateLimitWaitTooLongError || signal?.aborted) {
          throw fail(attempt, 'DeadlineExceeded', { cause: error });
        }
        throw error;
      }
      if (budgetSlot) inFlight.add(budgetSlot);
      const startedAt = clock.now();
      const budgetMs =
        deadlineMs === undefined ? timeouts.callMs : Math.min(timeouts.callMs, deadlineMs - startedAt);
      const abort = attemptAbort(signal, Math.max(1, budgetMs));
      try {
        const result = await send(attempt, schema, check, callOptions, abort.signal).finally(() => {
          abort.dispose();
          // The answer (or the failure) is in: CAMS has counted this call by now, if at all.
          limiterSlot.settle();
          if (budgetSlot) inFlight.delete(budgetSlot);
          budgetSlot?.settle();
        });
        callOptions.onAttempt?.({
          action: attempt.action,
          attempt: number,
          code: 'OK',
          durationMs: clock.now() - startedAt,
        });
        return result;
      } catch (error) {
        const camsError =
          error instanceof CamsError ? error : fail(attempt, 'InvalidResponse', { cause: error });
        callOptions.onAttempt?.({
          action: attempt.action,
          attempt: number,
          code: camsError.code,
          durationMs: clock.now() - startedAt,
        });
        if (!camsError.retryable || number >= attemptsAllowed(callOptions)) throw camsError;
        const delayMs = backoffDelayMs(
          number,
          random,
          isThrottlingCode(camsError.code) ? THROTTLE_BACKOFF : ERROR_BACKOFF,
        );
        if (deadlineMs !== undefined && clock.now() + delayMs + MIN_ATTEMPT_MS > deadlineMs) throw camsError;
        try {
          await clock.sleep(delayMs, signal);
        } catch {
          throw camsError;
        }
      }
    }
  }

  return {
    async getFlow(input: GetFlowInput, callOptions: CallOptions): Promise<Flow> {
      const flowId = validateFlowId(input.flowId);
      const fields: Array<[string, string]> = [];
      // Same field order as the official SDK's form body.
      if (input.custSpaceId !== undefined)
        fields.push(['CustSpaceId', validateCustSpaceId(input.custSpaceId)]);
      fields.push(['FlowId', flowId]);
      const answer = await call(
        { action: 'GetFlow', target: flowId, fields },
        getFlowResponseSchema(),
        callOptions,
        // Never echoed: the id CAMS sent is unchecked text, the one asked for is in the message.
        (answered) =>
          answered.Data.FlowId === flowId
            ? undefined
            : 'CAMS answered for another flow: Data.FlowId is not the FlowId sent',
      );
      const data = answer.Data;
      return {
        flowId: data.FlowId,
        flowName: data.FlowName,
        status: data.Status,
        categories: data.Categories,
        jsonVersion: data.JSONVersion,
        dataApiVersion: data.DataApiVersion,
        previewUrl: data.PreviewUrl,
        ...(data.PreviewUrlExpires === undefined
          ? {}
          : { previewUrlExpiresAt: new Date(data.PreviewUrlExpires).toISOString() }),
        endpointUri: data.EndpointUri ?? undefined,
        requestId: safeRequestId(answer.RequestId, secretsOf(callOptions.credentials)) ?? '',
      };
    },

    async listFlows(input: ListFlowInput, callOptions: CallOptions): Promise<FlowPage> {
      const fields: Array<[string, string]> = [];
      if (input.custSpaceId !== undefined)
        fields.push(['CustSpaceId', validateCustSpaceId(input.custSpaceId)]);
      fields.push(['Page', JSON.stringify({ Index: input.pageIndex, Size: input.pageSize })]);
      const target = input.custSpaceId ? `cust space ${input.custSpaceId}` : 'flows';
      const attempt: Attempt = { action: 'ListFlow', target, fields };
      const answer = await call(attempt, listFlowResponseSchema(), callOptions);
      if (!answer.Data) {
        throw fail(attempt, 'InvalidResponse', {
          requestId: safeRequestId(answer.RequestId, secretsOf(callOptions.credentials)),
          upstreamMessage: 'a 200 answer without Data',
        });
      }
      return {
        flows: answer.Data.map((flow) => ({
          flowId: flow.FlowId,
          flowName: flow.FlowName,
          categories: flow.Categories,
        })),
        requestId: safeRequestId(answer.RequestId, secretsOf(callOptions.credentials)) ?? '',
      };
    },
  };
}

/** What the call's answers must not pass on: its credentials. */
function secretsOf(credentials: CallOptions['credentials']): CallSecrets {
  return [credentials.accessKeyId, credentials.accessKeySecret, credentials.securityToken];
}

function definedOnly<T extends object>(value: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<{
    [K in keyof T]: Exclude<T[K], undefined>;
  }>;
}

function summariseIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
    .join('; ');
}

/** The body as text, or undefined once it passes MAX_BODY_BYTES (the rest is not read). */
async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One attempt's signal: aborts at the attempt's time budget or when the caller aborts.
 * Hand-rolled because AbortSignal.any/timeout cost more per call than the rest of the client.
 */
function attemptAbort(callerSignal: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('attempt timed out', 'TimeoutError')),
    timeoutMs,
  );
  timer.unref();
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onCallerAbort();
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

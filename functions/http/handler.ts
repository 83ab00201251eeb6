import { createHash } from 'node:crypto';
import middy from '@middy/core';
import { AccountBudget } from '../../shared/budget';
import {
  type CamsClient,
  type CamsClientOptions,
  camsClientFromEnv,
  type Flow,
  resolveCredentials,
  validateFlowId,
} from '../../shared/cams';
import { type Clock, systemClock } from '../../shared/clock';
import { ConfigError } from '../../shared/config-error';
import { invocationTimeoutS } from '../../shared/invocation-timeout';
import { type AnswerSource, ageSeconds, cacheStatus } from './answer';
import { authorise } from './auth';
import { type HttpConfig, parseHttpConfig, requestedCustSpaceId } from './config';
import { toHttpError } from './error-mapping';
import { type HttpRequest, parseFcHttpEvent } from './fc-event';
import { FlowCache } from './flow-cache';
import { createFlowReader } from './flow-reader';
import { HttpError } from './http-error';
import { JSON_TYPE, jsonAnswer, type OperatorAnswer } from './json-answer';
import { createOperatorRoutes } from './operator-routes';
import { hasUsablePreview, previewExpiryOf, usablePreview } from './preview';
import { allowedMethods, matchRoute } from './routes';
import { createStateStoreOpener, credentialsIfAny } from './state-store';
import { statusPage } from './status-page';

export interface FcContext {
  readonly requestId?: string;
  readonly credentials?: unknown;
  readonly function?: { readonly timeout?: number; readonly name?: string };
}

export type FcHttpResponse = OperatorAnswer;

export interface HttpHandlerDependencies {
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: Clock;
  readonly cams?: CamsClient;
  readonly camsOptions?: CamsClientOptions;
  readonly log?: (line: string) => void;
  readonly version?: string;
}

/** s.yaml's timeout, for a context that carries none (or no positive number). */
const DEFAULT_TIMEOUT_S = 10;
/** Leave this much of the function's timeout to answer and log after a slow CAMS call. */
const DEADLINE_MARGIN_MS = 1000;
/** The budget's counts in flight are waited for at most until this long before FC's timeout. */
const ANSWER_MARGIN_MS = 200;
/** A redirect must not point at a preview URL that expires before the caller can follow it. */
const PREVIEW_MIN_VALIDITY_MS = 60_000;

interface RequestState {
  http?: HttpRequest;
  route?: string;
  camsCalls: number;
  cacheHit: boolean;
  source?: AnswerSource;
  errorCode?: string;
  startedAt: number;
}

function etagOf(flow: Flow): string {
  // Weak: the body's requestId differs between CAMS reads of an unchanged flow.
  const { requestId: _requestId, ...stable } = flow;
  return `W/"${createHash('sha256').update(JSON.stringify(stable)).digest('base64url').slice(0, 27)}"`;
}

function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((candidate) => {
    const value = candidate.trim();
    return value === '*' || value.replace(/^W\//, '') === opaque;
  });
}

/**
 * Builds the FC handler. Configuration is parsed once, when the first invocation arrives
 * (FC keeps module state on a warm instance, so the client pool and cache live on).
 */
export function createHttpHandler(dependencies: HttpHandlerDependencies = {}) {
  const env = dependencies.env ?? process.env;
  const clock = dependencies.clock ?? systemClock;
  const log = dependencies.log ?? ((line: string) => console.log(line));
  const version = dependencies.version ?? 'dev';
  let config: HttpConfig | undefined;
  let configError: unknown;
  let cams = dependencies.cams;
  let cache: FlowCache | undefined;
  let readFlow: ReturnType<typeof createFlowReader> | undefined;
  let budget: AccountBudget | undefined;
  let openStateStore: ReturnType<typeof createStateStoreOpener> | undefined;
  let warnedNoTokens = false;
  const operator = createOperatorRoutes({ clock, log });
  const logEntry = (entry: Record<string, unknown>) => log(JSON.stringify(entry));

  function setUp(): HttpConfig {
    if (config) return config;
    if (configError) throw configError;
    try {
      // Assigned only once everything parsed: a half set-up handler would answer later
      // requests with a bare 500 instead of the configuration error.
      const parsed = parseHttpConfig(env);
      cams ??= camsClientFromEnv(env, dependencies.camsOptions);
      cache = new FlowCache({ ttlMs: parsed.cacheTtlMs, clock });
      budget = new AccountBudget({
        accountQps: parsed.accountQps,
        scope: 'http',
        pollQps: parsed.pollQps,
        instances: parsed.maxInstances,
        clock,
        log: logEntry,
      });
      readFlow = createFlowReader({
        cams,
        budget,
        clock,
        maxAgeMs: parsed.maxAgeMs,
        cacheTtlMs: parsed.cacheTtlMs,
        log: logEntry,
      });
      openStateStore = createStateStoreOpener({
        stateUrl: parsed.stateUrl,
        env,
        clock,
        log: logEntry,
        fallbackQps: budget.fallbackQps,
      });
      config = parsed;
    } catch (error) {
      configError = error;
      log(JSON.stringify({ level: 'error', msg: 'configuration error', error: (error as Error).message }));
      throw error;
    }
    const hasNoTokens = config.tokenDigests.length === 0 && config.adminTokenDigests.length === 0;
    if (config.authMode === 'token' && hasNoTokens && !warnedNoTokens) {
      warnedNoTokens = true;
      log(
        JSON.stringify({
          level: 'error',
          msg: 'HTTP_API_TOKENS is empty: every route but /healthz and the status page answers 401. Set HTTP_API_TOKENS, or HTTP_AUTH=none when the HTTP trigger authenticates (HTTP_TRIGGER_AUTH_TYPE=function).',
        }),
      );
    }
    return config;
  }

  /** `ok`, or the variable the configuration error names. */
  function configHealth(): string {
    try {
      setUp();
      return 'ok';
    } catch (error) {
      return error instanceof ConfigError ? error.variable : 'configuration';
    }
  }

  async function route(
    request: HttpRequest,
    state: RequestState,
    context: FcContext,
  ): Promise<FcHttpResponse> {
    const match = matchRoute(request.path);
    if (!match)
      throw new HttpError(404, 'NotFound', `no route for ${request.method} ${request.path.slice(0, 200)}`);
    state.route = match.template;
    const allowed = allowedMethods(match.name);
    if (!allowed.includes(request.method)) {
      throw new HttpError(405, 'MethodNotAllowed', `${match.template} answers ${allowed.join(', ')}`, {
        headers: { allow: allowed.join(', ') },
      });
    }
    if (match.name === 'healthz') {
      // Parses the configuration (no store or CAMS call) so a smoke check sees a broken
      // deployment; names the variable at fault, never its value.
      const configState = configHealth();
      // process.version: FC does not document the built-in nodejs20 runtime's patch release.
      return jsonAnswer(
        configState === 'ok' ? 200 : 503,
        { ok: configState === 'ok', config: configState, version, node: process.version },
        { 'cache-control': 'no-store' },
      );
    }

    if (match.name === 'statusPage') return statusPage(request);

    const activeConfig = setUp();
    authorise(activeConfig, request.headers.authorization);
    if (operator.isOperatorRoute(match.name)) {
      if (!openStateStore) throw new Error('handler not set up');
      // A file: store needs no credentials; without them a Tablestore store answers MissingCredentials.
      const store = await openStateStore(credentialsIfAny(context.credentials, env));
      return operator.handle(
        {
          name: match.name,
          params: match.params,
          request,
          config: activeConfig,
          requestId: context.requestId ?? '',
        },
        store,
      );
    }
    const flowId = validateFlowId(match.params.flowId);
    const custSpaceId = requestedCustSpaceId(request.query, activeConfig);
    const credentials = resolveCredentials(context.credentials, env);
    const timeoutS = invocationTimeoutS(context, DEFAULT_TIMEOUT_S);
    const deadlineMs = state.startedAt + Math.max(1000, timeoutS * 1000 - DEADLINE_MARGIN_MS);
    if (!cache || !readFlow || !openStateStore) throw new Error('handler not set up');
    const reader = readFlow;
    const store = await openStateStore(credentials);
    const isNoCache = /(^|,)\s*no-cache\s*(,|$)/i.test(request.headers['cache-control'] ?? '');
    const minPreviewValidityMs = match.name === 'preview' ? PREVIEW_MIN_VALIDITY_MS : 0;
    const load = () =>
      reader({
        flowId,
        custSpaceId,
        store,
        credentials,
        deadlineMs,
        isNoCache,
        minPreviewValidityMs,
        onAttempt: () => {
          state.camsCalls += 1;
        },
      });
    const key = `${custSpaceId ?? ''}\u0000${flowId}`;
    if (isNoCache) cache.forget(key);
    const cached = isNoCache
      ? { answer: await load(), hit: false, collapsed: false, isStored: false }
      : await cache.get(key, load, (answer) =>
          hasUsablePreview(usablePreview(answer.flow), clock.now(), minPreviewValidityMs),
        );
    const { answer } = cached;
    const now = clock.now();
    state.cacheHit = cached.hit || answer.source !== 'cams';
    state.source = cached.hit ? 'memory' : answer.source;
    const preview = usablePreview(answer.flow);
    const freshUntil = Math.min(answer.freshUntil, previewExpiryOf(preview, now));
    const provenance = {
      age: String(ageSeconds(answer, now)),
      'cache-status': cacheStatus(state.source, { ...answer, freshUntil }, now, {
        isCollapsed: cached.collapsed,
        isStored: cached.isStored || answer.isShared === true,
      }),
    };

    if (match.name === 'preview') {
      if (!preview) {
        throw new HttpError(
          404,
          'PreviewUnavailable',
          'CAMS gave this flow no https preview URL: open the flow in WhatsApp Manager to preview it',
        );
      }
      const location = preview.url;
      return {
        statusCode: 302,
        headers: { location, 'cache-control': 'no-store', 'content-type': JSON_TYPE, ...provenance },
        isBase64Encoded: false,
        body: JSON.stringify({ location }),
      };
    }
    const etag = etagOf(answer.flow);
    const maxAgeS = Math.max(0, Math.floor((freshUntil - now) / 1000));
    const headers = { etag, 'cache-control': `private, max-age=${maxAgeS}`, ...provenance };
    if (etagMatches(request.headers['if-none-match'], etag)) {
      return { statusCode: 304, headers, isBase64Encoded: false, body: '' };
    }
    return jsonAnswer(200, answer.flow, headers);
  }

  type HttpRequestContext = {
    event: unknown;
    context: FcContext;
    response: FcHttpResponse | null;
    error: unknown;
    internal: Record<string, unknown>;
  };
  const stateOf = (request: HttpRequestContext) => request.internal.state as RequestState;
  /** When FC's timeout for this invocation ends, less the margin to answer and log. */
  const answerBy = (request: HttpRequestContext) =>
    stateOf(request).startedAt +
    invocationTimeoutS(request.context, DEFAULT_TIMEOUT_S) * 1000 -
    ANSWER_MARGIN_MS;

  /** First in: FC's Buffer event becomes a validated, normalised HttpRequest. */
  const fcHttpEventParser = {
    name: 'fcHttpEventParser',
    before: function parseFcEventBefore(request: HttpRequestContext) {
      const http = parseFcHttpEvent(request.event);
      const state = stateOf(request);
      state.http = http;
      request.event = { http, state } satisfies ParsedEvent;
    },
  };

  /** Decides what a caller sees for any failure; 5xx internals never leak. */
  const errorResponse = {
    name: 'errorResponse',
    onError: function errorResponseOnError(request: HttpRequestContext) {
      const httpError = toHttpError(request.error);
      const requestId = typeof request.context?.requestId === 'string' ? request.context.requestId : '';
      stateOf(request).errorCode = httpError.code;
      if (!httpError.expose) {
        log(
          JSON.stringify({
            level: 'error',
            msg: 'unexpected error',
            requestId,
            error: (request.error as Error)?.message,
          }),
        );
      }
      if (httpError.detail !== undefined) {
        log(
          JSON.stringify({
            level: 'error',
            msg: httpError.message,
            requestId,
            errorCode: httpError.code,
            error: httpError.detail,
          }),
        );
      }
      request.response = jsonAnswer(
        httpError.statusCode,
        {
          error: {
            code: httpError.code,
            message: httpError.message,
            requestId,
            ...(httpError.camsRequestId ? { camsRequestId: httpError.camsRequestId } : {}),
          },
        },
        { 'cache-control': 'no-store', ...httpError.headers },
      );
    },
  };

  /** Outermost: HEAD answers carry no body, and every request logs one JSON line. */
  const finishResponse = (request: HttpRequestContext) => {
    const state = stateOf(request);
    const response = request.response;
    if (!response) return;
    if (state.http?.method === 'HEAD') request.response = { ...response, body: '' };
    log(
      JSON.stringify({
        level: response.statusCode >= 500 ? 'error' : 'info',
        msg: 'request',
        requestId: typeof request.context?.requestId === 'string' ? request.context.requestId : '',
        method: state.http?.method ?? null,
        route: state.route ?? null,
        status: response.statusCode,
        durationMs: clock.now() - state.startedAt,
        camsCalls: state.camsCalls,
        cacheHit: state.cacheHit,
        ...(state.source ? { source: state.source } : {}),
        ...(state.errorCode ? { errorCode: state.errorCode } : {}),
      }),
    );
  };
  const requestLog = {
    name: 'requestLog',
    before: function requestLogBefore(request: HttpRequestContext) {
      request.internal.state = {
        camsCalls: 0,
        cacheHit: false,
        startedAt: clock.now(),
      } satisfies RequestState;
    },
    // FC freezes the instance once it has answered: the budget's counts still in flight (a slow
    // call's late count) land first, within a bound, and the logged duration includes that wait.
    after: async function requestLogAfter(request: HttpRequestContext) {
      await budget?.settled({ notAfter: answerBy(request) });
      finishResponse(request);
    },
    onError: async function requestLogOnError(request: HttpRequestContext) {
      await budget?.settled({ notAfter: answerBy(request) });
      finishResponse(request);
    },
  };

  // middy's types are written against aws-lambda's Context; FC's context differs, so the chain is typed here.
  const chain = middy({ timeoutEarlyInMillis: 0 }) as unknown as MiddyChain;
  return chain
    .use(requestLog)
    .use(errorResponse)
    .use(fcHttpEventParser)
    .handler(async (event: ParsedEvent, context: FcContext) => route(event.http, event.state, context ?? {}));
}

interface MiddyChain {
  use(middleware: object): MiddyChain;
  handler(
    base: (event: ParsedEvent, context: FcContext) => Promise<FcHttpResponse>,
  ): (event: unknown, context: FcContext) => Promise<FcHttpResponse>;
}

interface ParsedEvent {
  readonly http: HttpRequest;
  readonly state: RequestState;
}

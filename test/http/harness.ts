import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type FcContext,
  FcFunction,
  type FcFunctionOptions,
  fcContext,
  fcHttpEvent,
  loadBundle,
} from '../../local/fc-emulator';
import type { Credentials } from '../../shared/cams/types';

export const HTTP_BUNDLE = resolve('dist/http/index.js');

export interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

export interface InvokeRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

/** Every (route template, method, status) the tests saw, for the OpenAPI check. */
export const observed = new Set<string>();

/** A state store of its own, so what one test's instances shared never reaches another test. */
export const freshStateUrl = () => `file:${mkdtempSync(join(tmpdir(), 'cfw-http-state-'))}`;

function httpEvent(request: InvokeRequest): Buffer {
  return fcHttpEvent({
    method: request.method ?? 'GET',
    path: request.path,
    headers: request.headers ?? {},
    query: request.query ?? {},
  });
}

/**
 * Loads the built bundle fresh (a cold start) with `env` as its configuration, in this process:
 * one module state answering whatever is invoked, for tests of what one invocation does.
 * Without a STATE_URL in `env`, on a fresh state store.
 */
/**
 * The HTTP function's variables for a test of where answers come from: one API token, a 30 s
 * shared cache, no cust space, its state at `stateUrl`; `extra` on top.
 */
export function readModelEnv(
  camsEndpoint: string,
  token: string,
  stateUrl: string,
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    CAMS_ENDPOINT: camsEndpoint,
    HTTP_API_TOKENS: token,
    HTTP_AUTH: undefined,
    HTTP_CACHE_TTL_SECONDS: '30',
    CAMS_CUST_SPACE_ID: undefined,
    STATE_URL: stateUrl,
    ...extra,
  };
}

export function coldStart(env: Record<string, string | undefined>) {
  const withState = 'STATE_URL' in env ? env : { ...env, STATE_URL: freshStateUrl() };
  for (const [name, value] of Object.entries(withState)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  const { handler } = loadBundle(HTTP_BUNDLE, { fresh: true });
  return {
    handler,
    invoke: (request: InvokeRequest, context: InvokeContext = {}) => invokeHandler(handler, request, context),
  };
}

/**
 * The built bundle run as FC runs it: one request per instance, each instance a worker thread
 * with its own module state and only `env` (the function's variables) as its environment
 * (without a STATE_URL, on a fresh state store). The caller closes it.
 */
export function httpFunction(
  env: Record<string, string | undefined>,
  options: Partial<FcFunctionOptions> = {},
) {
  const withState = 'STATE_URL' in env ? env : { ...env, STATE_URL: freshStateUrl() };
  const defined = Object.fromEntries(
    Object.entries(withState).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const fn = new FcFunction({
    bundle: HTTP_BUNDLE,
    functionName: 'cams-flow-watch-http',
    env: defined,
    ...options,
  });
  return {
    fn,
    /** The handler's answer; an FC-level failure (429, crash, timeout) fails the test. */
    async invoke(request: InvokeRequest, credentials?: Credentials): Promise<Answer> {
      const invocation = await fn.invoke(httpEvent(request), credentials ? { credentials } : {});
      if (!invocation.ok)
        throw new Error(`FC answered ${invocation.error.statusCode}: ${invocation.error.body.errorMessage}`);
      return invocation.value as Answer;
    },
  };
}

export type InvokeContext = { credentials?: Credentials | undefined; timeoutSeconds?: number };

/** One invocation the way FC makes it: the v1 event as a Buffer, and FC's context. */
export async function invokeHandler(
  handler: (event: Buffer, context: FcContext) => Promise<unknown>,
  request: InvokeRequest,
  context: InvokeContext = {},
): Promise<Answer> {
  return (await handler(httpEvent(request), fcContext(context) as FcContext)) as Answer;
}

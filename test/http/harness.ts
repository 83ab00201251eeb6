import { resolve } from 'node:path';
import { type FcContext, fcContext, fcHttpEvent, loadBundle } from '../../local/fc-emulator';
import type { Credentials } from '../../shared/cams/types';

export const HTTP_BUNDLE = resolve('dist/http/index.js');

export interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/** Every (route template, method, status) the tests saw, for the OpenAPI check. */
export const observed = new Set<string>();

/** Loads the built bundle fresh (a cold start) with `env` as its configuration. */
export function coldStart(env: Record<string, string | undefined>) {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  const { handler } = loadBundle(HTTP_BUNDLE, { fresh: true });
  return {
    handler,
    invoke: (request: InvokeRequest, context: InvokeContext = {}) => invokeHandler(handler, request, context),
  };
}

export interface InvokeRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

type InvokeContext = { credentials?: Credentials | undefined; timeoutSeconds?: number };

/** One invocation the way FC makes it: the v1 event as a Buffer, and FC's context. */
export async function invokeHandler(
  handler: (event: Buffer, context: FcContext) => Promise<unknown>,
  request: InvokeRequest,
  context: InvokeContext = {},
): Promise<Answer> {
  return (await handler(
    fcHttpEvent({
      method: request.method ?? 'GET',
      path: request.path,
      headers: request.headers ?? {},
      query: request.query ?? {},
    }),
    fcContext(context) as FcContext,
  )) as Answer;
}

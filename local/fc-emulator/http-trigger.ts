/**
 * FC's HTTP trigger in front of a function: each request becomes FC's v1 event Buffer, runs on
 * one of the function's instances (function-pool.ts), and the handler's answer goes back. What FC
 * answers instead — 429 when every instance up to the cap is busy, 502 for a crash, an unhandled
 * error or a timeout — carries FC's `X-Fc-Error-Type` header and JSON error body.
 *
 * On FC's default domain (`*.fcapp.run`) FC adds `Content-Disposition: attachment` to every
 * answer, so a browser downloads the status page instead of showing it; Alibaba Cloud's fix is
 * binding a custom domain ("to prevent forced downloads when accessing an HTTP trigger"). This
 * emulation does the same unless `customDomain` says the trigger is reached through one.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { Credentials } from '../../shared/cams/types';
import { listen } from '../listen';
import { fcHttpEvent } from './events';
import { unhandled } from './fc-errors';
import type { FcFunction } from './function-pool';

function joinHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  // FC joins repeated headers with commas; rawHeaders keeps the client's spelling and repeats.
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index] ?? '';
    const value = request.rawHeaders[index + 1] ?? '';
    const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
    if (existing) headers[existing] = `${headers[existing]},${value}`;
    else headers[name] = value;
  }
  return headers;
}

function queryOf(url: URL): Record<string, string> {
  const query: Record<string, string> = {};
  for (const name of new Set(url.searchParams.keys())) query[name] = url.searchParams.getAll(name).join(',');
  return query;
}

interface HandlerAnswer {
  statusCode?: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface FcHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback (by default) in front of `fn`. `credentials` overrides the
 * function's own for every invocation. Closing the server leaves `fn` running: close it too.
 */
export async function serveFcHttp(
  fn: FcFunction,
  options: {
    port?: number;
    host?: string;
    credentials?: Credentials;
    /** Served through a custom domain bound to the function: no forced download. */
    customDomain?: boolean;
  } = {},
): Promise<FcHttpServer> {
  // FC's own header, over whatever the function answered.
  const domainHeaders: Record<string, string> = options.customDomain
    ? {}
    : { 'content-disposition': 'attachment' };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://local');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const isText =
      body.length === 0 || /json|text|x-www-form-urlencoded/.test(request.headers['content-type'] ?? '');
    const requestId = randomUUID();
    const invocation = await fn
      .invoke(
        fcHttpEvent({
          method: request.method ?? 'GET',
          path: url.pathname,
          headers: joinHeaders(request),
          query: queryOf(url),
          body: isText ? body.toString('utf8') : body.toString('base64'),
          isBase64Encoded: !isText,
        }),
        { requestId, ...(options.credentials ? { credentials: options.credentials } : {}) },
      )
      .catch((error: unknown) => ({
        ok: false as const,
        error: unhandled('Error', error instanceof Error ? error.message : String(error)),
      }));
    if (!invocation.ok) {
      response.writeHead(invocation.error.statusCode, {
        'content-type': 'application/json',
        'x-fc-request-id': requestId,
        'x-fc-error-type': invocation.error.errorType,
        ...domainHeaders,
      });
      response.end(JSON.stringify(invocation.error.body));
      return;
    }
    const answer = (invocation.value ?? {}) as HandlerAnswer;
    const payload = answer.isBase64Encoded ? Buffer.from(answer.body ?? '', 'base64') : (answer.body ?? '');
    const headers = Object.fromEntries(
      // Own names only: `in` would also match inherited ones (`constructor`, `toString`).
      Object.entries(answer.headers ?? {}).filter(
        ([name]) => !Object.hasOwn(domainHeaders, name.toLowerCase()),
      ),
    );
    response.writeHead(answer.statusCode ?? 200, {
      ...headers,
      'x-fc-request-id': requestId,
      ...domainHeaders,
    });
    response.end(request.method === 'HEAD' ? undefined : payload);
  });
  const { port } = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

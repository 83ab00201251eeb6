/**
 * What Function Compute does around a handler, for tests and `npm start`: load the built
 * bundle with plain `require`, build FC 3.0's event Buffers and context, and serve HTTP the way
 * the HTTP trigger does.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Credentials } from '../shared/cams/types';

export type FcHandler = (event: Buffer, context: FcContext) => Promise<unknown>;

export interface FcContext {
  readonly requestId: string;
  readonly credentials: Credentials | undefined;
  readonly function: {
    readonly name: string;
    readonly handler: string;
    readonly memory: number;
    readonly timeout: number;
  };
  readonly service: {
    readonly name: string;
    readonly logProject: string;
    readonly logStore: string;
    readonly qualifier: string;
  };
  readonly region: string;
  readonly accountId: string;
  readonly retryCount: number;
}

/**
 * `require`s a built bundle. `fresh` drops it from the module cache first: a new cold start,
 * which re-reads configuration from the environment.
 */
export function loadBundle(path: string, options: { fresh?: boolean } = {}): { handler: FcHandler } {
  const resolved = require.resolve(path);
  if (options.fresh) delete require.cache[resolved];
  const loaded = require(resolved) as { handler?: unknown };
  if (typeof loaded.handler !== 'function') throw new Error(`${path} does not export a handler function`);
  return { handler: loaded.handler as FcHandler };
}

export interface FcHttpEventInput {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

export function fcHttpEvent(input: FcHttpEventInput): Buffer {
  const now = new Date();
  return Buffer.from(
    JSON.stringify({
      version: 'v1',
      rawPath: input.path,
      body: input.body ?? '',
      isBase64Encoded: input.isBase64Encoded ?? false,
      headers: input.headers ?? {},
      queryParameters: input.query ?? {},
      requestContext: {
        accountId: '1234567890',
        domainName: 'local.fcapp.run',
        domainPrefix: 'local',
        http: {
          method: input.method,
          path: input.path,
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: '',
        },
        requestId: `1-${randomUUID()}`,
        time: `${now.toISOString().slice(0, 19)}Z`,
        timeEpoch: String(now.getTime()),
      },
    }),
  );
}

export function fcTimerEvent(input: { triggerName?: string; payload?: string } = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      triggerTime: `${new Date().toISOString().slice(0, 19)}Z`,
      triggerName: input.triggerName ?? 'every-minute',
      ...(input.payload === undefined ? {} : { payload: input.payload }),
    }),
  );
}

export function fcContext(
  input: {
    requestId?: string;
    credentials?: Credentials | undefined;
    timeoutSeconds?: number;
    functionName?: string;
  } = {},
): FcContext {
  return {
    requestId: input.requestId ?? randomUUID(),
    credentials: input.credentials,
    function: {
      name: input.functionName ?? 'cams-flow-watch-http',
      handler: 'index.handler',
      memory: 256,
      timeout: input.timeoutSeconds ?? 10,
    },
    service: { name: '', logProject: '', logStore: '', qualifier: 'LATEST' },
    region: 'local',
    accountId: '1234567890',
    retryCount: 0,
  };
}

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

/** A real HTTP server that turns each request into FC's v1 event and the handler's answer back. */
export async function serveFcHttp(
  handler: FcHandler,
  options: { port?: number; host?: string; credentials?: Credentials; timeoutSeconds?: number } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const url = new URL(request.url ?? '/', 'http://local');
      const body = Buffer.concat(chunks);
      const isText =
        body.length === 0 || /json|text|x-www-form-urlencoded/.test(request.headers['content-type'] ?? '');
      try {
        const answer = (await handler(
          fcHttpEvent({
            method: request.method ?? 'GET',
            path: url.pathname,
            headers: joinHeaders(request),
            query: queryOf(url),
            body: isText ? body.toString('utf8') : body.toString('base64'),
            isBase64Encoded: !isText,
          }),
          fcContext({
            credentials: options.credentials,
            timeoutSeconds: options.timeoutSeconds ?? 10,
            functionName: 'cams-flow-watch-http',
          }),
        )) as {
          statusCode?: number;
          headers?: Record<string, string>;
          body?: string;
          isBase64Encoded?: boolean;
        };
        const payload = answer?.isBase64Encoded
          ? Buffer.from(answer.body ?? '', 'base64')
          : (answer?.body ?? '');
        response.writeHead(answer?.statusCode ?? 200, answer?.headers ?? {});
        response.end(request.method === 'HEAD' ? undefined : payload);
      } catch (error) {
        // FC answers an unhandled function error with 502 and an error body; so do we.
        response.writeHead(502, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ errorMessage: error instanceof Error ? error.message : String(error) }),
        );
      }
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

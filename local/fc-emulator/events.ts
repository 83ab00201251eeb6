/**
 * FC 3.0's event Buffers and context as plain values, and `loadBundle` for tests that call a
 * handler directly in this process (one module state, no instance model: see `function-pool.ts`
 * for how FC really runs it).
 */
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { Credentials } from '../../shared/cams/types';

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
 * `require`s a built bundle. `fresh` drops it, and the lazily loaded parts beside it, from the
 * module cache first: a new cold start, which re-reads configuration from the environment.
 */
export function loadBundle(path: string, options: { fresh?: boolean } = {}): { handler: FcHandler } {
  const resolved = require.resolve(path);
  if (options.fresh) {
    const folder = dirname(resolved);
    for (const cached of Object.keys(require.cache)) {
      if (dirname(cached) === folder) delete require.cache[cached];
    }
  }
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

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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

/** A state store of its own, so what one test's instances shared never reaches another test. */
export const freshStateUrl = () => `file:${mkdtempSync(join(tmpdir(), 'cfw-http-state-'))}`;

/**
 * Loads the built bundle fresh (a cold start) with `env` as its configuration; without a
 * STATE_URL in `env`, on a fresh state store.
 */
export function coldStart(env: Record<string, string | undefined>) {
  const withState = 'STATE_URL' in env ? env : { ...env, STATE_URL: freshStateUrl() };
  for (const [name, value] of Object.entries(withState)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  const { handler } = loadBundle(HTTP_BUNDLE, { fresh: true });
  return {
    handler,
    async invoke(
      request: {
        method?: string;
        path: string;
        headers?: Record<string, string>;
        query?: Record<string, string>;
      },
      context: { credentials?: Credentials | undefined; timeoutSeconds?: number } = {},
    ): Promise<Answer> {
      const answer = (await handler(
        fcHttpEvent({
          method: request.method ?? 'GET',
          path: request.path,
          headers: request.headers ?? {},
          query: request.query ?? {},
        }),
        fcContext(context) as FcContext,
      )) as Answer;
      return answer;
    },
  };
}

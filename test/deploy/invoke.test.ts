import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_FUNCTION_NAMES,
  InvokeApiError,
  invoke,
  invokeOptionsFrom,
  runInvokeCli,
} from '../../scripts/invoke/index';

interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (request: SeenRequest, response: ServerResponse) => void;

/** Answers FC 3.0's InvokeFunction (POST /2023-03-30/functions/{name}/invocations) as FC does. */
async function startFakeFcApi(
  answer: Answer,
): Promise<{ endpoint: string; seen: SeenRequest[]; server: Server }> {
  const seen: SeenRequest[] = [];
  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const url = new URL(incoming.url ?? '/', 'http://fc.invalid');
      const request = {
        method: incoming.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      answer(request, response);
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { endpoint: `http://127.0.0.1:${port}`, seen, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((closed) => server.close(closed))));
});

const SECRET = 'test-secret-never-printed';
const credentialsEnv = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.testkey',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET,
  ALIBABA_CLOUD_SECURITY_TOKEN: 'test-sts-token',
};

/**
 * Recomputes the ACS3-HMAC-SHA256 signature the way the FC API checks it (canonical request over
 * the signed headers and the body hash), so the test proves the SDK signed with the secret.
 */
function hasValidAcs3Signature(request: SeenRequest, secret: string): boolean {
  const match = /^ACS3-HMAC-SHA256 Credential=[^,]+,SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(
    request.headers.authorization ?? '',
  );
  if (!match?.[1] || !match[2]) return false;
  const signedHeaders = match[1].split(';');
  const encode = (value: string) =>
    encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonicalQuery = [...request.query.entries()]
    .map(([key, value]) => [encode(key), encode(value)])
    .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  if (request.headers['x-acs-content-sha256'] !== bodyHash) return false;
  const canonicalRequest = [
    request.method,
    request.path,
    canonicalQuery,
    ...signedHeaders.map((name) => `${name}:${String(request.headers[name] ?? '').trim()}`),
    '',
    signedHeaders.join(';'),
    bodyHash,
  ].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  return createHmac('sha256', secret).update(stringToSign).digest('hex') === match[2];
}

function invocationAnswer(options: {
  status?: number;
  body: string;
  log?: string;
  errorType?: string;
}): Answer {
  return (_, response) => {
    response.writeHead(options.status ?? 200, {
      'content-type': 'application/octet-stream',
      'x-fc-request-id': '1-6740-abc',
      'x-fc-log-result': Buffer.from(options.log ?? '').toString('base64'),
      ...(options.errorType ? { 'x-fc-error-type': options.errorType } : {}),
    });
    response.end(options.body);
  };
}

function captureIo(): {
  out: string[];
  err: string[];
  io: { out: (l: string) => void; err: (l: string) => void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line) => out.push(line), err: (line) => err.push(line) } };
}

describe('invoke tool', () => {
  it('invokes the function by name through the FC 3.0 API, signed, and returns body and decoded log tail', async () => {
    const api = await startFakeFcApi(
      invocationAnswer({
        body: '{"statusCode":200,"body":"ok"}',
        log: 'FC Invoke Start\nhealthy\nFC Invoke End',
      }),
    );
    const env = { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint, DEPLOY_QUALIFIER: 'LATEST' };

    const result = await invoke(invokeOptionsFrom(['http'], env));

    expect(result).toMatchObject({
      functionName: 'cams-flow-watch-http',
      statusCode: 200,
      requestId: '1-6740-abc',
      body: '{"statusCode":200,"body":"ok"}',
      logTail: 'FC Invoke Start\nhealthy\nFC Invoke End',
      errorType: undefined,
    });
    const [request] = api.seen;
    expect(request).toMatchObject({
      method: 'POST',
      path: '/2023-03-30/functions/cams-flow-watch-http/invocations',
    });
    expect(request?.query.get('qualifier')).toBe('LATEST');
    expect(request?.headers['x-fc-log-type']).toBe('Tail');
    expect(request?.headers.authorization).toMatch(
      /^ACS3-HMAC-SHA256 Credential=STS\.testkey,SignedHeaders=[a-z0-9;-]+,Signature=[0-9a-f]{64}$/,
    );
    expect(hasValidAcs3Signature(request as SeenRequest, SECRET)).toBe(true);
    expect(hasValidAcs3Signature(request as SeenRequest, 'another-secret')).toBe(false);
    expect(request?.headers['x-acs-security-token']).toBe('test-sts-token');
    expect(request?.headers['x-acs-action']).toBe('InvokeFunction');
    expect(JSON.stringify(request?.headers)).not.toContain(SECRET);
    // The handler receives the body unchanged: FC's v1 HTTP event for GET /healthz.
    expect(JSON.parse(request?.body ?? '')).toMatchObject({
      version: 'v1',
      rawPath: '/healthz',
      requestContext: { http: { method: 'GET', path: '/healthz' } },
    });
  });

  it('sends the poller a timer event by default and a given event verbatim', async () => {
    const api = await startFakeFcApi(invocationAnswer({ body: '{"checked":2}' }));
    const env = { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint };

    await invoke(invokeOptionsFrom(['poller'], env));
    await invoke(
      invokeOptionsFrom(['poller', '{"custom":true}'], { ...env, DEPLOY_POLLER_FUNCTION_NAME: 'other' }),
    );

    expect(api.seen[0]?.path).toBe(`/2023-03-30/functions/${DEFAULT_FUNCTION_NAMES.poller}/invocations`);
    expect(JSON.parse(api.seen[0]?.body ?? '')).toMatchObject({
      triggerName: 'every-minute',
      payload: expect.any(String),
    });
    expect(api.seen[1]?.path).toBe('/2023-03-30/functions/other/invocations');
    expect(api.seen[1]?.body).toBe('{"custom":true}');
  });

  it('prints answer and log tail and exits 0 on success', async () => {
    const api = await startFakeFcApi(invocationAnswer({ body: '{"ok":true}', log: 'a log line' }));
    const { out, err, io } = captureIo();

    const exitCode = await runInvokeCli(
      ['poller'],
      { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint },
      io,
    );

    expect(exitCode).toBe(0);
    expect(err).toEqual([]);
    expect(out.join('\n')).toContain('{"ok":true}');
    expect(out.join('\n')).toContain('a log line');
  });

  it('exits 1 and names the error type when the function itself fails', async () => {
    const api = await startFakeFcApi(
      invocationAnswer({
        body: '{"errorMessage":"boom","errorType":"Error"}',
        log: 'Error: boom',
        errorType: 'UnhandledInvocationError',
      }),
    );
    const { out, err, io } = captureIo();

    const exitCode = await runInvokeCli(
      ['http'],
      { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint },
      io,
    );

    expect(exitCode).toBe(1);
    expect(out.join('\n')).toContain('Error: boom');
    expect(err).toEqual(['function error: UnhandledInvocationError']);
  });

  it('reports a refusal of the FC API with its code, status and request id, and exits 1', async () => {
    const api = await startFakeFcApi((_, response) => {
      response.writeHead(403, { 'content-type': 'application/json', 'x-fc-request-id': '1-6740-denied' });
      response.end(
        JSON.stringify({
          Code: 'AccessDenied',
          Message: 'not allowed to fc:InvokeFunction',
          RequestId: '1-6740-denied',
        }),
      );
    });
    const env = { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint };

    const failure = await invoke(invokeOptionsFrom(['http'], env)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InvokeApiError);
    expect(failure).toMatchObject({ code: 'AccessDenied', httpStatus: 403, requestId: '1-6740-denied' });

    const { err, io } = captureIo();
    expect(await runInvokeCli(['http'], env, io)).toBe(1);
    expect(err.join('\n')).toMatch(/InvokeFunction cams-flow-watch-http failed: AccessDenied \(HTTP 403\)/);
    expect(err.join('\n')).not.toContain(SECRET);
  });

  it.each([
    [
      "a gateway's HTML 502",
      502,
      { 'content-type': 'text/html' },
      '<html><body>502 Bad Gateway</body></html>',
      undefined,
    ],
    ['an empty 403', 403, { 'x-fc-request-id': '1-6740-empty' }, '', '1-6740-empty'],
    ["a proxy's non-JSON 429", 429, { 'content-type': 'text/plain' }, 'Too Many Requests', undefined],
  ])(
    "reports %s with its HTTP status, request id and endpoint, saying it is not FC's JSON error",
    async (_, status, headers, body, requestId) => {
      const api = await startFakeFcApi((_request, response) => {
        response.writeHead(status, headers);
        response.end(body);
      });
      const env = { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api.endpoint };

      const failure = await invoke(invokeOptionsFrom(['http'], env)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(InvokeApiError);
      expect(failure).toMatchObject({ code: 'UnexpectedAnswer', httpStatus: status, requestId });

      const { err, io } = captureIo();
      expect(await runInvokeCli(['http'], env, io)).toBe(1);
      expect(err).toEqual([
        expect.stringMatching(
          `^InvokeFunction cams-flow-watch-http failed: UnexpectedAnswer \\(HTTP ${status}\\) from ${api.endpoint}, request id ${requestId ?? '\\(none\\)'}: the answer is not FC's JSON error`,
        ),
      ]);
      expect(err.join('\n')).not.toContain(SECRET);
    },
  );

  it('names the region, endpoint and variables to check when FC has no function by that name', async () => {
    const api = await startFakeFcApi((_, response) => {
      response.writeHead(404, { 'content-type': 'application/json', 'x-fc-request-id': '1-6740-missing' });
      response.end(
        JSON.stringify({
          Code: 'FunctionNotFound',
          Message: 'function not found',
          RequestId: '1-6740-missing',
        }),
      );
    });
    const env = {
      ...credentialsEnv,
      DEPLOY_FC_ENDPOINT: api.endpoint,
      DEPLOY_REGION: 'cn-hangzhou',
      DEPLOY_POLLER_FUNCTION_NAME: 'renamed-poller',
    };

    const { err, io } = captureIo();
    expect(await runInvokeCli(['poller'], env, io)).toBe(1);
    expect(err.join('\n')).toMatch(/^InvokeFunction renamed-poller failed: FunctionNotFound \(HTTP 404\)/);
    expect(err.join('\n')).toContain(
      `nothing by that name in region cn-hangzhou at ${api.endpoint}: check DEPLOY_REGION, DEPLOY_POLLER_FUNCTION_NAME, and ALIBABA_CLOUD_ACCOUNT_ID (or DEPLOY_FC_ENDPOINT)`,
    );
  });

  it.each([
    ['no credentials', ['http'], { DEPLOY_FC_ENDPOINT: 'http://127.0.0.1:9' }, /ALIBABA_CLOUD_ACCESS_KEY_ID/],
    ['no account id or endpoint', ['http'], credentialsEnv, /ALIBABA_CLOUD_ACCOUNT_ID/],
    ['an unknown target', ['nope'], credentialsEnv, /usage: npm run invoke/],
    ['no target', [], credentialsEnv, /usage: npm run invoke/],
  ])('exits 2 with a clear message on %s', async (_, args, env, message) => {
    const { out, err, io } = captureIo();

    expect(await runInvokeCli(args, env, io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(message);
  });

  it.each(['abc', '0', '1.5', '-3'])(
    'exits 2 naming DEPLOY_INVOKE_TIMEOUT_SECONDS=%s instead of quietly waiting 90 s',
    async (timeout) => {
      const env = {
        ...credentialsEnv,
        DEPLOY_FC_ENDPOINT: 'http://127.0.0.1:9',
        DEPLOY_INVOKE_TIMEOUT_SECONDS: timeout,
      };
      const { out, err, io } = captureIo();

      expect(await runInvokeCli(['http'], env, io)).toBe(2);
      expect(out).toEqual([]);
      expect(err).toEqual([
        `DEPLOY_INVOKE_TIMEOUT_SECONDS must be a whole number of seconds of at least 1 (unset: 90), got ${JSON.stringify(timeout)}`,
      ]);
    },
  );

  it('reads DEPLOY_INVOKE_TIMEOUT_SECONDS as the read timeout, 90 s when unset or empty', () => {
    const endpoint = { ...credentialsEnv, DEPLOY_FC_ENDPOINT: 'http://127.0.0.1:9' };
    expect(invokeOptionsFrom(['http'], endpoint).timeoutMs).toBe(90_000);
    expect(invokeOptionsFrom(['http'], { ...endpoint, DEPLOY_INVOKE_TIMEOUT_SECONDS: '' }).timeoutMs).toBe(
      90_000,
    );
    expect(
      invokeOptionsFrom(['http'], { ...endpoint, DEPLOY_INVOKE_TIMEOUT_SECONDS: ' 30 ' }).timeoutMs,
    ).toBe(30_000);
  });

  it('targets the per-account FC 3.0 endpoint of the region', () => {
    const options = invokeOptionsFrom(['http'], {
      ...credentialsEnv,
      ALIBABA_CLOUD_ACCOUNT_ID: '1234567890123456',
      ALIBABA_CLOUD_REGION: 'cn-hangzhou',
    });
    expect(options).toMatchObject({
      endpoint: '1234567890123456.cn-hangzhou.fc.aliyuncs.com',
      protocol: 'https',
      regionId: 'cn-hangzhou',
    });
  });
});

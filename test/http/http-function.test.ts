import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { buildVersion } from '../../scripts/build-version.mjs';
import { adviceFor } from '../../shared/cams';
import { type Answer, coldStart, httpFunction, observed } from './harness';
import { undocumented } from './openapi-check';

/** What scripts/build.mjs baked into the bundles: package version + git commit. */
const builtVersion = buildVersion(join(__dirname, '../..'));

const TOKEN = 'local-test-token-1';
const HASHED_TOKEN = 'second-token-2';
const FLOW = { flowId: '926753328126431', flowName: 'sign_up', status: 'PUBLISHED', categories: ['SIGN_UP'] };
const SPACE_FLOW = {
  flowId: '926753328126432',
  custSpaceId: 'cams-space',
  flowName: 'support',
  status: 'THROTTLED',
};

let simulator: CamsSimulator;
const logs: string[] = [];
const auth = { authorization: `Bearer ${TOKEN}` };
const credentials = SIMULATOR_CREDENTIALS;

function record(route: string, method: string, answer: Answer): Answer {
  observed.add(`${route} ${method} ${answer.statusCode}`);
  return answer;
}

function errorOf(answer: Answer) {
  return (JSON.parse(answer.body) as { error: { code: string; message: string; requestId: string } }).error;
}

function baseEnv(extra: Record<string, string | undefined> = {}) {
  return {
    CAMS_ENDPOINT: simulator.endpoint,
    HTTP_API_TOKENS: `${TOKEN}, sha256:${createHash('sha256').update(HASHED_TOKEN).digest('hex')}`,
    HTTP_AUTH: undefined,
    HTTP_CACHE_TTL_SECONDS: '5',
    CAMS_CUST_SPACE_ID: undefined,
    ALIBABA_CLOUD_ACCESS_KEY_ID: undefined,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: undefined,
    // coldStart sets process.env: a bad value one test gave must not reach the next.
    HTTP_MAX_INSTANCES: undefined,
    POLL_QPS: undefined,
    CAMS_ACCOUNT_QPS: undefined,
    TABLESTORE_ENDPOINT: undefined,
    ...extra,
  };
}

beforeAll(async () => {
  simulator = await startCamsSimulator({ flows: [FLOW, SPACE_FLOW], rateLimit: false });
  vi.spyOn(console, 'log').mockImplementation((line: string) => void logs.push(String(line)));
});
afterAll(async () => {
  vi.restoreAllMocks();
  await simulator.close();
});
afterEach(() => {
  simulator.clearFaults();
  logs.length = 0;
});

describe('HTTP function routes', () => {
  it('answers /healthz without auth or CAMS call', async () => {
    const fn = coldStart(baseEnv());
    const before = simulator.calls.length;
    const answer = record('/healthz', 'GET', await fn.invoke({ path: '/healthz' }));
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      ok: true,
      config: 'ok',
      version: builtVersion,
      node: process.version,
    });
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(simulator.calls.length).toBe(before);
    const head = record('/healthz', 'HEAD', await fn.invoke({ method: 'HEAD', path: '/healthz' }));
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });

  it('serves a flow camelCased, with ETag and Cache-Control', async () => {
    const fn = coldStart(baseEnv());
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials }),
    );
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({
      ...FLOW,
      previewUrl: expect.any(String),
      requestId: expect.any(String),
    });
    expect(answer.headers.etag).toMatch(/^W\/"/);
    expect(answer.headers['cache-control']).toMatch(/^private, max-age=[0-5]$/);
    const head = record(
      '/flows/{flowId}',
      'HEAD',
      await fn.invoke({ method: 'HEAD', path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials }),
    );
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBe(answer.headers.etag);
  });

  it('takes custSpaceId from the query, or CAMS_CUST_SPACE_ID by default', async () => {
    const fn = coldStart(baseEnv());
    const answer = await fn.invoke(
      { path: `/flows/${SPACE_FLOW.flowId}`, headers: auth, query: { custSpaceId: 'cams-space' } },
      { credentials },
    );
    expect(JSON.parse(answer.body)).toMatchObject({ status: 'THROTTLED' });
    const withDefault = coldStart(baseEnv({ CAMS_CUST_SPACE_ID: 'cams-space' }));
    const byDefault = await withDefault.invoke(
      { path: `/flows/${SPACE_FLOW.flowId}`, headers: auth },
      { credentials },
    );
    expect(byDefault.statusCode).toBe(200);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const fn = coldStart(baseEnv());
    const first = await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials });
    const again = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke(
        { path: `/flows/${FLOW.flowId}`, headers: { ...auth, 'if-none-match': first.headers.etag ?? '' } },
        { credentials },
      ),
    );
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('redirects to the preview URL and renews it once expired', async () => {
    simulator.setFlow({ ...FLOW, flowId: '926753328126499', previewUrlTtlMs: 300 });
    const fn = coldStart(baseEnv());
    const first = record(
      '/flows/{flowId}/preview',
      'GET',
      await fn.invoke({ path: '/flows/926753328126499/preview', headers: auth }, { credentials }),
    );
    expect(first.statusCode).toBe(302);
    expect(first.headers.location).toMatch(/^https:\/\//);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const second = await fn.invoke(
      { path: '/flows/926753328126499/preview', headers: auth },
      { credentials },
    );
    expect(second.headers.location).not.toBe(first.headers.location);
  });

  it('answers 404 for unknown paths and 405 with Allow for other methods', async () => {
    const fn = coldStart(baseEnv());
    const unknown = await fn.invoke({ path: '/nope', headers: auth });
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown).code).toBe('NotFound');
    const post = record(
      '/flows/{flowId}',
      'POST',
      await fn.invoke({ method: 'POST', path: `/flows/${FLOW.flowId}`, headers: auth }),
    );
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const deleteHealth = record(
      '/healthz',
      'DELETE',
      await fn.invoke({ method: 'DELETE', path: '/healthz' }),
    );
    expect(deleteHealth.statusCode).toBe(405);
  });
});

describe('HTTP function auth', () => {
  it.each([
    ['no header', {}],
    ['wrong scheme', { authorization: `Basic ${TOKEN}` }],
    ['empty token', { authorization: 'Bearer ' }],
    ['wrong token', { authorization: 'Bearer not-a-token' }],
    ['token prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ])('answers 401 with WWW-Authenticate for %s', async (_label, headers) => {
    const fn = coldStart(baseEnv());
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers }, { credentials }),
    );
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(errorOf(answer).code).toBe('Unauthorized');
  });

  it('accepts a hashed token and any case of the header name and scheme', async () => {
    const fn = coldStart(baseEnv());
    const hashed = await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: { AUTHORIZATION: `bearer ${HASHED_TOKEN}` } },
      { credentials },
    );
    expect(hashed.statusCode).toBe(200);
    const mixed = await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: { Authorization: `Bearer ${TOKEN}` } },
      { credentials },
    );
    expect(mixed.statusCode).toBe(200);
  });

  it('denies everything but /healthz when no tokens are configured, and says so once in the log', async () => {
    const fn = coldStart(baseEnv({ HTTP_API_TOKENS: '' }));
    const answer = await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials });
    await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(401);
    expect(logs.filter((line) => line.includes('HTTP_API_TOKENS is empty'))).toHaveLength(1);
    expect((await fn.invoke({ path: '/healthz' })).statusCode).toBe(200);
  });

  it('lets the trigger authenticate with HTTP_AUTH=none', async () => {
    const fn = coldStart(baseEnv({ HTTP_API_TOKENS: '', HTTP_AUTH: 'none' }));
    expect((await fn.invoke({ path: `/flows/${FLOW.flowId}` }, { credentials })).statusCode).toBe(200);
  });

  it('never logs tokens or credentials', async () => {
    const fn = coldStart(baseEnv());
    await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: auth, query: { custSpaceId: 'x y' } },
      { credentials },
    );
    await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: { authorization: 'Bearer wrong-secret-token' } },
      { credentials },
    );
    const all = logs.join('\n');
    for (const secret of [
      TOKEN,
      'wrong-secret-token',
      credentials.accessKeySecret,
      credentials.securityToken ?? '',
    ]) {
      expect(all).not.toContain(secret);
    }
    const line = JSON.parse(logs[0] ?? '{}');
    expect(line).toMatchObject({
      msg: 'request',
      method: 'GET',
      route: '/flows/{flowId}',
      status: 400,
      camsCalls: 0,
    });
  });
});

describe('HTTP function errors', () => {
  it('answers 400 naming the field and the rule', async () => {
    const fn = coldStart(baseEnv());
    const badFlow = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: '/flows/abc%20def', headers: auth }, { credentials }),
    );
    expect(badFlow.statusCode).toBe(400);
    expect(errorOf(badFlow)).toMatchObject({
      code: 'InvalidParameter',
      message: expect.stringMatching(/^flowId is invalid: .*letters/),
    });
    const badSpace = await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: auth, query: { custSpaceId: '<script>' } },
      { credentials },
    );
    expect(errorOf(badSpace).message).toMatch(/^custSpaceId is invalid/);
  });

  it.each([
    ['Unknown.ResourceOwnerId', 404, 'FlowNotFound', /flowId and custSpaceId/],
    ['Ram.PermissionDeny', 502, 'UpstreamPermissionDenied', /cams:GetFlow/],
    ['Product.Unsubscript', 502, 'UpstreamNotSubscribed', /activated/],
    ['System.LimitControl', 429, 'Throttled', /throttling/],
    ['SignatureDoesNotMatch', 502, 'SignatureDoesNotMatch', /signature/],
  ])('maps %s to %s', async (camsCode, status, code, message) => {
    const fn = coldStart(baseEnv());
    simulator.injectFault({ kind: 'error', code: camsCode });
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials, timeoutSeconds: 2 }),
    );
    expect(answer.statusCode).toBe(status);
    const error = errorOf(answer);
    expect(error).toMatchObject({ code, requestId: expect.any(String) });
    expect(error.message).toMatch(message);
    if (status === 429) expect(answer.headers['retry-after']).toBe('1');
    expect(answer.body).not.toMatch(/at .*\.js:\d+/);
  });

  it('answers 504 when CAMS is too slow for the function timeout', async () => {
    const fn = coldStart(baseEnv());
    simulator.injectFault({ kind: 'latency', ms: 3000 });
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials, timeoutSeconds: 2 }),
    );
    expect(answer.statusCode).toBe(504);
    expect(errorOf(answer).code).toBe('UpstreamTimeout');
  });

  it.each([
    ['a string', 'abc'],
    ['an object', { s: 10 }],
    ['NaN', Number.NaN],
    ['zero', 0],
    ['negative', -5],
  ])('reads CAMS once under the default timeout when context.function.timeout is %s', async (_, timeout) => {
    // Before, a timeout that was no number made the deadline NaN: 504 after 4 counted CAMS calls.
    const fn = coldStart(baseEnv());
    const before = simulator.calls.length;
    const answer = await fn.invoke(
      { path: `/flows/${FLOW.flowId}`, headers: auth },
      { credentials, timeoutSeconds: timeout as number },
    );
    expect(answer.statusCode).toBe(200);
    expect(simulator.calls.length - before).toBe(1);
    expect(JSON.parse(logs.at(-1) ?? '{}')).toMatchObject({ msg: 'request', status: 200, camsCalls: 1 });
  });

  it('answers 502 with the CAMS code for a body it cannot read', async () => {
    const fn = coldStart(baseEnv());
    simulator.injectFault({ kind: 'malformed' });
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials }),
    );
    expect(answer.statusCode).toBe(502);
    expect(errorOf(answer).code).toBe('InvalidResponse');
  });

  it('answers 503 naming the RAM role when the function has no credentials', async () => {
    const fn = coldStart(baseEnv());
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, {}),
    );
    expect(answer.statusCode).toBe(503);
    expect(errorOf(answer)).toMatchObject({
      code: 'MissingCredentials',
      message: expect.stringMatching(/RAM role.*cams:GetFlow/),
    });
  });

  it.each([
    ['HTTP_CACHE_TTL_SECONDS', { HTTP_CACHE_TTL_SECONDS: 'soon' }],
    // The poller's share must leave the HTTP function some of the account's calls.
    ['POLL_QPS', { POLL_QPS: '5', CAMS_ACCOUNT_QPS: '5' }],
    ['HTTP_MAX_INSTANCES', { HTTP_MAX_INSTANCES: '2.5' }],
    ['STATE_URL', { STATE_URL: 'postgres://state:hunter2@db.example/state' }],
    ['STATE_URL', { STATE_URL: 'tablestore://x/flow_state', TABLESTORE_ENDPOINT: undefined }],
    ['STATE_URL', { STATE_URL: 'file:' }],
    [
      'TABLESTORE_ENDPOINT',
      { STATE_URL: 'tablestore://cfw-test/flow_state', TABLESTORE_ENDPOINT: 'ots.example' },
    ],
  ])('answers 500 naming the variable for bad configuration (%s)', async (variable, env) => {
    const fn = coldStart(baseEnv(env));
    const answer = record(
      '/flows/{flowId}',
      'GET',
      await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials }),
    );
    expect(answer.statusCode).toBe(500);
    expect(errorOf(answer)).toMatchObject({
      code: 'InvalidConfiguration',
      message: expect.stringMatching(new RegExp(`^${variable}`)),
    });
  });
});

describe('/healthz reports the configuration', () => {
  it.each([
    ['STATE_URL', { STATE_URL: 'redis://:hunter2@state.example:6379' }],
    [
      'TABLESTORE_ENDPOINT',
      { STATE_URL: 'tablestore://cfw-test/flow_state', TABLESTORE_ENDPOINT: 'https://hunter2@ots/path' },
    ],
    // Each passed a shape check once while every store call failed (review51 finding 1).
    [
      'TABLESTORE_ENDPOINT',
      {
        STATE_URL: 'tablestore://cfw-test/flow_state',
        TABLESTORE_ENDPOINT: 'https://cfw-test.ap-southeast-1.ots.aliyuncs.com:99999',
      },
    ],
    [
      'TABLESTORE_ENDPOINT',
      { STATE_URL: 'tablestore://cfw-test/flow_state', TABLESTORE_ENDPOINT: 'https://[cfw-test]' },
    ],
    [
      'TABLESTORE_ENDPOINT',
      {
        STATE_URL: 'tablestore://cfw-test/flow_state',
        TABLESTORE_ENDPOINT: 'https://ops:hunter2@cfw-test.ap-southeast-1.ots.aliyuncs.com',
      },
    ],
    ['CAMS_ENDPOINT', { CAMS_ENDPOINT: 'ftp://hunter2.example' }],
    // Lowering the account alone leaves the default POLL_QPS (4) at or above it.
    ['POLL_QPS', { CAMS_ACCOUNT_QPS: '4' }],
  ])(
    'answers 503 naming %s on every request, unauthenticated, without its value or a CAMS call',
    async (variable, env) => {
      const fn = coldStart(baseEnv(env));
      const before = simulator.calls.length;
      for (let request = 0; request < 2; request += 1) {
        const answer = record('/healthz', 'GET', await fn.invoke({ path: '/healthz' }));
        expect(answer.statusCode).toBe(503);
        expect(JSON.parse(answer.body)).toEqual({
          ok: false,
          config: variable,
          version: builtVersion,
          node: process.version,
        });
        expect(answer.headers['cache-control']).toBe('no-store');
      }
      const flow = await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials });
      expect(flow.statusCode).toBe(500);
      expect(errorOf(flow).message).toMatch(new RegExp(`^${variable} `));
      expect(simulator.calls.length).toBe(before);
      expect([...logs, flow.body].join('\n')).not.toContain('hunter2');
    },
  );

  it('keeps serving on the pair the throttling advice names', async () => {
    const [, accountQps, pollQps] =
      /CAMS_ACCOUNT_QPS=(\d+) with POLL_QPS=(\d+)/.exec(adviceFor('System.LimitControl')) ?? [];
    const fn = coldStart(baseEnv({ CAMS_ACCOUNT_QPS: accountQps, POLL_QPS: pollQps }));
    const health = record('/healthz', 'GET', await fn.invoke({ path: '/healthz' }));
    expect(JSON.parse(health.body)).toMatchObject({ ok: true, config: 'ok' });
    const flow = await fn.invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, { credentials });
    expect(flow.statusCode).toBe(200);
  });
});

// FC 3.0 runs one request per instance (../shared/ref/fc-runtime.md), so these run the bundle on
// the emulator's instances: a memory cache or coalescing only ever covers the requests one warm
// instance serves. Answers reach other instances through the state store (read-model.test.ts).
interface RequestLog {
  msg: string;
  cacheHit: boolean;
  camsCalls: number;
  source?: string;
}

/** Keeps the instances' per-request log lines (their other lines are not what these tests count). */
function collectRequestLogs(into: RequestLog[]) {
  return (line: string) => {
    if (!line.startsWith('{')) return;
    const parsed = JSON.parse(line) as RequestLog;
    if (parsed.msg === 'request') into.push(parsed);
  };
}

describe('HTTP function budget on FC instances', () => {
  it('gives each concurrent request an instance of its own; warm instances then answer from memory', async () => {
    const lines: RequestLog[] = [];
    const { fn, invoke } = httpFunction(baseEnv({ HTTP_CACHE_TTL_SECONDS: '60' }), {
      log: collectRequestLogs(lines),
    });
    const sources = () => lines.map((line) => line.source);
    try {
      const wave = () =>
        Promise.all(
          Array.from({ length: 5 }, () =>
            invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, credentials),
          ),
        );
      const before = simulator.calls.length;
      const first = await wave();
      expect(first.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200]);
      expect(fn.stats()).toMatchObject({ instancesStarted: 5, throttled: 0 });
      // Five fresh module states: none has the flow in memory; each reads CAMS unless another
      // instance has stored its answer in the shared cache first.
      await vi.waitFor(() => expect(lines).toHaveLength(5));
      const firstSources = sources();
      expect(firstSources.every((source) => source === 'cams' || source === 'shared')).toBe(true);
      // Answered calls, not all calls: this file's simulator is shared, so the previous test's calls
      // may still fill the account's second and refuse one here (it is then retried, or answered
      // from the shared cache meanwhile).
      const answeredCalls = simulator.calls.slice(before).filter((call) => call.code === 'OK');
      expect(answeredCalls).toHaveLength(firstSources.filter((source) => source === 'cams').length);
      const camsCallsAfterFirstWave = simulator.calls.length;
      const second = await wave();
      expect(second.map((answer) => answer.statusCode)).toEqual([200, 200, 200, 200, 200]);
      expect(fn.stats()).toMatchObject({ instancesStarted: 5, requests: 10 });
      await vi.waitFor(() => expect(lines).toHaveLength(10));
      expect(sources().slice(5)).toEqual(['memory', 'memory', 'memory', 'memory', 'memory']);
      expect(simulator.calls.length).toBe(camsCallsAfterFirstWave);
    } finally {
      await fn.close();
    }
  });

  // Expiry is FlowCache's (flow-cache.test.ts, on a virtual clock); this is about which instance.
  it('serves a repeat from the warm instance’s memory cache without a CAMS call', async () => {
    const lines: RequestLog[] = [];
    const { fn, invoke } = httpFunction(baseEnv({ HTTP_CACHE_TTL_SECONDS: '60' }), {
      log: collectRequestLogs(lines),
    });
    try {
      expect((await invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, credentials)).statusCode).toBe(
        200,
      );
      const camsCallsAfterFirst = simulator.calls.length;
      expect((await invoke({ path: `/flows/${FLOW.flowId}`, headers: auth }, credentials)).statusCode).toBe(
        200,
      );
      expect(fn.stats()).toMatchObject({ instancesStarted: 1, requests: 2 });
      expect(simulator.calls.length).toBe(camsCallsAfterFirst);
      await vi.waitFor(() => expect(lines).toHaveLength(2));
      expect(lines.at(-1)).toMatchObject({ cacheHit: true, camsCalls: 0 });
    } finally {
      await fn.close();
    }
  });
});

describe('OpenAPI description', () => {
  it('documents every route, method and status the tests above saw', () => {
    expect(observed.size).toBeGreaterThan(10);
    expect(undocumented(observed)).toEqual([]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { type Answer, coldStart, observed } from './harness';
import { undocumented } from './openapi-check';

const TOKEN = 'hostile-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const credentials = SIMULATOR_CREDENTIALS;
const FLOW_ID = '700000000000001';

let simulator: CamsSimulator;
const logs: string[] = [];

beforeAll(async () => {
  simulator = await startCamsSimulator({
    flows: [{ flowId: FLOW_ID, flowName: 'hostile', status: 'PUBLISHED' }],
    rateLimit: false,
  });
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

const env = (extra: Record<string, string | undefined> = {}) => ({
  CAMS_ENDPOINT: simulator.endpoint,
  HTTP_API_TOKENS: TOKEN,
  HTTP_AUTH: undefined,
  HTTP_CACHE_TTL_SECONDS: '60',
  CAMS_CUST_SPACE_ID: undefined,
  ALIBABA_CLOUD_ACCESS_KEY_ID: undefined,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: undefined,
  ...extra,
});

/** GetFlow answers whose Data fields are replaced by `patch`. */
function patchData(patch: Record<string, unknown>, times = 1) {
  simulator.injectFault(
    {
      kind: 'answer',
      rewrite: (answer) => ({ ...answer, Data: { ...(answer.Data as object), ...patch } }),
    },
    { action: 'GetFlow', times },
  );
}

const errorOf = (answer: Answer) =>
  (JSON.parse(answer.body) as { error: { code: string; message: string; camsRequestId?: string } }).error;

const callsFor = () => simulator.calls.filter((call) => call.flowId === FLOW_ID).length;

describe('/preview with hostile preview URLs', () => {
  it.each([
    ['empty', ''],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['plain http', 'http://business.facebook.com/preview'],
    ['a header split', 'https://business.facebook.com/p\r\nSet-Cookie: x=1'],
    ['a tab', 'https://business.facebook.com/p\tq'],
    ['a NUL', 'https://business.facebook.com/p\u0000'],
    ['a space', 'https://business.facebook.com/p q'],
    ['not a URL', 'https//nope'],
  ])('answers 404 PreviewUnavailable for %s, cached like any answer', async (_name, previewUrl) => {
    patchData({ PreviewUrl: previewUrl, PreviewUrlExpires: Date.now() + 3600_000 });
    const fn = coldStart(env());
    const before = callsFor();
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}/preview`, headers: auth }, { credentials });
    observed.add(`/flows/{flowId}/preview GET ${answer.statusCode}`);
    expect(answer.statusCode).toBe(404);
    expect(answer.headers.location).toBeUndefined();
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(errorOf(answer).code).toBe('PreviewUnavailable');
    const again = await fn.invoke({ path: `/flows/${FLOW_ID}/preview`, headers: auth }, { credentials });
    expect(again.statusCode).toBe(404);
    expect(callsFor() - before).toBe(1);
  });

  it('still redirects to an https preview URL', async () => {
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}/preview`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(302);
    expect(answer.headers.location).toMatch(/^https:\/\/[^\s]+$/);
  });
});

describe('malformed PreviewUrlExpires', () => {
  it.each([
    ['far beyond a Date', 1e20],
    ['negative', -5],
    ['a fraction', 1.5],
    ['a word', 'tomorrow'],
    ['an object', { at: 1 }],
    ['a boolean', true],
    ['a huge digit string', '99999999999999999999'],
    ['not a number', 'NaN'],
  ])('%s yields a flow with no expiry, not a 500', async (_name, expires) => {
    patchData({ PreviewUrlExpires: expires });
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(200);
    const flow = JSON.parse(answer.body) as Record<string, unknown>;
    expect(flow.status).toBe('PUBLISHED');
    expect(flow).not.toHaveProperty('previewUrlExpiresAt');
  });

  it('a preview URL without a known expiry is not cached', async () => {
    patchData({ PreviewUrlExpires: 'soon' }, 2);
    const fn = coldStart(env());
    const before = callsFor();
    for (let request = 0; request < 2; request += 1) {
      const answer = await fn.invoke({ path: `/flows/${FLOW_ID}/preview`, headers: auth }, { credentials });
      expect(answer.statusCode).toBe(302);
    }
    expect(callsFor() - before).toBe(2);
  });
});

describe('GetFlow answers that cannot be right', () => {
  it.each([
    ['about another flow', { FlowId: '111111111111111', Status: 'BLOCKED' }],
    ['with a lower-case status', { Status: 'published' }],
    ['with a multi-line status', { Status: 'PUBLISHED\n[webhook] verified' }],
    ['with a 100 KB status', { Status: 'X'.repeat(100_000) }],
  ])('%s: 502 InvalidResponse with the CAMS request id, not cached', async (_name, patch) => {
    patchData(patch);
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    observed.add(`/flows/{flowId} GET ${answer.statusCode}`);
    expect(answer.statusCode).toBe(502);
    const error = errorOf(answer);
    expect(error.code).toBe('InvalidResponse');
    expect(error.camsRequestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(answer.body).not.toContain('111111111111111');
    expect(answer.body.length).toBeLessThan(2000);
    const again = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    expect(again.statusCode).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({
      flowId: FLOW_ID,
      status: 'PUBLISHED',
      flowName: 'hostile',
    });
  });

  it('a 100 KB, multi-line name: the flow is served with its name bounded to one line of 256 characters', async () => {
    patchData({ FlowName: `two\nlines${'n'.repeat(100_000)}` });
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    observed.add(`/flows/{flowId} GET ${answer.statusCode}`);
    expect(answer.statusCode).toBe(200);
    const flow = JSON.parse(answer.body) as { flowName: string; status: string };
    expect(flow.status).toBe('PUBLISHED');
    expect(flow.flowName).toHaveLength(256);
    expect(flow.flowName.startsWith('two lines')).toBe(true);
  });

  it('a 2xx without Code: 502 InvalidResponse naming Code', async () => {
    simulator.injectFault(
      { kind: 'answer', rewrite: (answer) => ({ RequestId: answer.RequestId, Data: answer.Data }) },
      { action: 'GetFlow', times: 1 },
    );
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(502);
    expect(errorOf(answer)).toMatchObject({
      code: 'InvalidResponse',
      message: expect.stringContaining('Code'),
    });
  });
});

describe('CAMS error details passed to callers', () => {
  const secrets = [
    SIMULATOR_CREDENTIALS.accessKeyId,
    SIMULATOR_CREDENTIALS.accessKeySecret,
    SIMULATOR_CREDENTIALS.securityToken ?? '',
  ];

  it.each([
    ['markup', '<script>alert(1)</script>'],
    ['a newline', 'Bad\nCode'],
    ['too long', 'A'.repeat(65)],
    ['empty-ish', ' '],
    ['unicode', 'Ошибка'],
  ])('a code with %s becomes UpstreamError', async (_name, code) => {
    simulator.injectFault(
      { kind: 'answer', httpStatus: 400, rewrite: (answer) => ({ ...answer, Code: code, Message: 'no' }) },
      { action: 'GetFlow', times: 1 },
    );
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(502);
    expect(errorOf(answer).code).toBe('UpstreamError');
  });

  it.each([
    ['security token', SIMULATOR_CREDENTIALS.securityToken ?? ''],
    ['access key secret', SIMULATOR_CREDENTIALS.accessKeySecret],
    ['access key id', SIMULATOR_CREDENTIALS.accessKeyId],
  ])(
    'a code or request id echoing the %s, though shaped like a plain id, is not passed on',
    async (_name, secret) => {
      // Plain enough for the id grammar, as a stand-in's or another region's credentials may be.
      expect(secret).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
      simulator.injectFault(
        {
          kind: 'answer',
          httpStatus: 400,
          rewrite: (answer) => ({ ...answer, Code: secret, Message: 'no', RequestId: `req-${secret}` }),
        },
        { action: 'GetFlow', times: 1 },
      );
      const fn = coldStart(env());
      const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
      expect(answer.statusCode).toBe(502);
      expect(errorOf(answer).code).toBe('UpstreamError');
      // The gateway's own header id stands in for the body's.
      expect(errorOf(answer).camsRequestId).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
      expect(answer.body + logs.join('\n')).not.toContain(secret);
    },
  );

  it('a message echoing the credentials is scrubbed and truncated; a forged request id is dropped', async () => {
    simulator.injectFault(
      {
        kind: 'answer',
        httpStatus: 400,
        rewrite: (answer) => ({
          ...answer,
          RequestId: 'x\r\nSet-Cookie: y',
          Code: 'Gateway.Refused',
          Message: `refused ${secrets.join(' and ')}\n${'x'.repeat(5000)}`,
        }),
      },
      { action: 'GetFlow', times: 1 },
    );
    const fn = coldStart(env());
    const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
    expect(answer.statusCode).toBe(502);
    const error = errorOf(answer);
    expect(error.code).toBe('Gateway.Refused');
    expect(error.message).toContain('[redacted]');
    expect(error.message.length).toBeLessThan(1000);
    expect(error.camsRequestId).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    const everything = answer.body + logs.join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toContain('Set-Cookie');
  });
});

describe('configuration errors', () => {
  it('are reported on every request, naming the variable', async () => {
    const fn = coldStart(env({ CAMS_ENDPOINT: 'ftp://cams.example' }));
    for (let request = 0; request < 3; request += 1) {
      const answer = await fn.invoke({ path: `/flows/${FLOW_ID}`, headers: auth }, { credentials });
      expect(answer.statusCode).toBe(500);
      expect(errorOf(answer)).toMatchObject({ code: 'InvalidConfiguration' });
      expect(errorOf(answer).message).toContain('CAMS_ENDPOINT');
    }
  });
});

describe('OpenAPI description', () => {
  it('documents every route, method and status the tests above saw', () => {
    expect(observed.size).toBeGreaterThan(0);
    expect(undocumented(observed)).toEqual([]);
  });
});

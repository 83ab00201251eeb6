import Cams, * as $Cams from '@alicloud/cams20200606';
import * as $OpenApi from '@alicloud/openapi-client';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type CamsSimulator,
  SIMULATOR_ACCESS_KEY,
  SIMULATOR_CREDENTIALS,
  startCamsSimulator,
} from '../../local/cams-simulator';
import {
  type CamsAttempt,
  type CamsClient,
  CamsError,
  createCamsClient,
  InvalidInputError,
  RateLimiter,
  RateLimitWaitTooLongError,
} from '../../shared/cams';
import { startCaptureServer } from '../support/capture-server';
import { VirtualClock } from '../support/virtual-clock';

const FLOW = {
  flowId: '926753328126431',
  flowName: 'sign_up_flow',
  status: 'PUBLISHED',
  categories: ['SIGN_UP'],
  jsonVersion: '6.1',
  dataApiVersion: '3.0',
};

/** Fast retries so fault tests finish quickly; the schedule itself is tested in rate-limiter/retry tests. */
const instantRandom = () => 0;

describe('CAMS client against the simulator', () => {
  let simulator: CamsSimulator;
  let client: CamsClient;
  let attempts: CamsAttempt[];
  const call = (flowId = FLOW.flowId, credentials = SIMULATOR_CREDENTIALS) =>
    client.getFlow({ flowId }, { credentials, onAttempt: (attempt) => attempts.push(attempt) });
  const failure = async (promise: Promise<unknown>): Promise<CamsError> => {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(CamsError);
    return error as CamsError;
  };

  beforeAll(async () => {
    simulator = await startCamsSimulator({ rateLimit: false, flows: [FLOW] });
  });
  afterAll(() => simulator.close());
  beforeEach(() => {
    attempts = [];
    client = createCamsClient({ endpoint: simulator.endpoint, qps: 1000, random: instantRandom });
  });
  afterEach(() => simulator.clearFaults());

  it('returns the flow camelCased, signed with STS role credentials', async () => {
    const flow = await call();
    expect(flow).toMatchObject({ ...FLOW, previewUrl: expect.stringMatching(/^https?:\/\//) });
    expect(Date.parse(flow.previewUrlExpiresAt ?? '')).toBeGreaterThan(Date.now());
    expect(flow.requestId).not.toBe('');
    expect(attempts).toEqual([expect.objectContaining({ action: 'GetFlow', attempt: 1, code: 'OK' })]);
  });

  it('works with plain access keys too', async () => {
    await expect(call(FLOW.flowId, SIMULATOR_ACCESS_KEY)).resolves.toMatchObject({ flowId: FLOW.flowId });
  });

  it('keeps unknown upper-case status words as sent', async () => {
    simulator.setStatus(FLOW.flowId, 'UNDER_REVIEW');
    await expect(call()).resolves.toMatchObject({ status: 'UNDER_REVIEW' });
    simulator.setStatus(FLOW.flowId, FLOW.status);
  });

  /** The next GetFlow answers carry `patch` over their Data. */
  const patchData = (patch: Record<string, unknown>) =>
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => ({ ...answer, Data: { ...(answer.Data as object), ...patch } }),
      },
      { action: 'GetFlow' },
    );

  it('refuses an answer about another flow: InvalidResponse, not retried, with the request id, echoing neither id CAMS sent nor secrets', async () => {
    patchData({ FlowId: '111111111111111', Status: 'BLOCKED' });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false, httpStatus: 200 });
    expect(error.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(error.message).toContain(`GetFlow ${FLOW.flowId} failed`);
    expect(error.message).toContain('CAMS answered for another flow');
    expect(error.message).not.toContain('111111111111111');
    expect(error.message).not.toContain(SIMULATOR_CREDENTIALS.accessKeySecret);
    expect(attempts.map((attempt) => attempt.code)).toEqual(['InvalidResponse']);
  });

  it.each([
    ['lower case', 'published'],
    ['padded', ' PUBLISHED '],
    ['empty', ''],
    ['markup', '<img src=x onerror=alert(1)>'],
    ['a line break', 'PUBLISHED\n[webhook] verified'],
    ['a leading digit', '1PUBLISHED'],
    ['33 characters', `P${'X'.repeat(32)}`],
    ['100 KB', 'X'.repeat(100_000)],
  ])('refuses a Status that is no upper-case status word (%s) as InvalidResponse', async (_name, status) => {
    patchData({ Status: status });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false });
    expect(error.message).toContain('Data.Status');
    expect(error.message.length).toBeLessThan(1000);
  });

  it.each([['THROTTLED'], ['BLOCKED'], ['A'], [`P${'X'.repeat(31)}`]])(
    'carries the upper-case status %s as sent',
    async (status) => {
      patchData({ Status: status });
      await expect(call()).resolves.toMatchObject({ status });
    },
  );

  it.each([
    ['a FlowName of 257 characters', { FlowName: 'n'.repeat(257) }, { flowName: `${'n'.repeat(255)}…` }],
    ['a FlowName of 100 KB', { FlowName: 'n'.repeat(100_000) }, { flowName: `${'n'.repeat(255)}…` }],
    [
      'a FlowName with a line break and a bidi override',
      { FlowName: 'sign_up\nPUBLISHED\u202e' },
      { flowName: 'sign_up PUBLISHED ' },
    ],
    [
      '1000 Categories',
      { Categories: Array.from({ length: 1000 }, () => 'OTHER') },
      { categories: Array.from({ length: 16 }, () => 'OTHER') },
    ],
    ['a Category of 65 characters', { Categories: ['C'.repeat(65)] }, { categories: [`${'C'.repeat(63)}…`] }],
  ])('bounds %s instead of refusing the answer: the status still counts', async (_name, patch, bounded) => {
    patchData({ ...patch, Status: 'BLOCKED' });
    await expect(call()).resolves.toMatchObject({ ...bounded, status: 'BLOCKED' });
  });

  it('takes names and categories up to the caps, in any script', async () => {
    const categories = ['烟雾量大/合适', ...Array.from({ length: 15 }, () => 'C'.repeat(64))];
    patchData({ FlowName: `注册 ${'n'.repeat(253)}`, Categories: categories });
    const flow = await call();
    expect(flow.flowName).toHaveLength(256);
    expect(flow.categories).toEqual(categories);
  });

  it.each([
    [
      'without Code',
      (answer: Record<string, unknown>) => ({ RequestId: answer.RequestId, Data: answer.Data }),
    ],
    ['with an empty Code', (answer: Record<string, unknown>) => ({ ...answer, Code: '' })],
  ])('refuses a 2xx %s as InvalidResponse naming Code', async (_name, rewrite) => {
    simulator.injectFault({ kind: 'answer', rewrite }, { action: 'GetFlow' });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false, httpStatus: 200 });
    expect(error.message).toContain('without Code');
    expect(error.requestId).toBeTruthy();
  });

  it.each([
    ['Product.Unsubscript', false, /activate/],
    ['Ram.PermissionDeny', false, /cams:GetFlow/],
    ['System.LimitControl', true, /5 flow calls per second/],
    ['Unknown.ResourceOwnerId', false, /FlowId and CustSpaceId/],
    ['Throttling.User', true, /lower CAMS_ACCOUNT_QPS and keep POLL_QPS below it/],
  ])('turns %s into a typed error (retryable: %s) that says what to do', async (code, retryable, advice) => {
    simulator.injectFault({ kind: 'error', code }, { times: 10 });
    const error = await failure(call());
    expect(error).toMatchObject({ code, retryable, httpStatus: 400, action: 'GetFlow' });
    expect(error.requestId).toBeTruthy();
    expect(error.message).toMatch(advice);
    expect(error.message).toContain(FLOW.flowId);
    expect(error.message).not.toContain(SIMULATOR_CREDENTIALS.accessKeySecret);
    expect(attempts).toHaveLength(retryable ? 4 : 1);
  });

  it('answers Unknown.ResourceOwnerId for a flow the account does not own', async () => {
    const error = await failure(call('111111111111'));
    expect(error.code).toBe('Unknown.ResourceOwnerId');
  });

  it('reports a bad secret as SignatureDoesNotMatch, without leaking the secret', async () => {
    const wrong = { ...SIMULATOR_CREDENTIALS, accessKeySecret: 'not-the-secret-123' };
    const error = await failure(call(FLOW.flowId, wrong));
    expect(error).toMatchObject({ code: 'SignatureDoesNotMatch', retryable: false });
    expect(error.message).not.toContain('not-the-secret-123');
  });

  it('reports an unknown key as InvalidAccessKeyId.NotFound', async () => {
    const error = await failure(call(FLOW.flowId, { accessKeyId: 'LTAI-unknown', accessKeySecret: 'x' }));
    expect(error.code).toBe('InvalidAccessKeyId.NotFound');
  });

  it('reports a skewed clock as InvalidTimeStamp.Expired', async () => {
    const skewed = createCamsClient({
      endpoint: simulator.endpoint,
      clock: { now: () => Date.now() - 20 * 60_000, sleep: async () => {} },
    });
    const error = await failure(
      skewed.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS }),
    );
    expect(error.code).toBe('InvalidTimeStamp.Expired');
    expect(error.message).toMatch(/clock/);
  });

  it('reports a reused nonce as SignatureNonceUsed', async () => {
    const repeating = createCamsClient({
      endpoint: simulator.endpoint,
      nonce: () => 'same-nonce',
      maxAttempts: 1,
    });
    await repeating.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS });
    const error = await failure(
      repeating.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS }),
    );
    expect(error.code).toBe('SignatureNonceUsed');
  });

  it('retries 5xx and succeeds when CAMS recovers', async () => {
    simulator.injectFault({ kind: 'http-status', httpStatus: 503 }, { times: 2 });
    await expect(call()).resolves.toMatchObject({ flowId: FLOW.flowId });
    expect(attempts.map((attempt) => attempt.code)).toEqual(['HttpError', 'HttpError', 'OK']);
  });

  it('gives up on persistent 5xx with a retryable HttpError', async () => {
    simulator.injectFault({ kind: 'http-status', httpStatus: 500 });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'HttpError', httpStatus: 500, retryable: true });
    expect(attempts).toHaveLength(4);
  });

  it('retries a connection reset', async () => {
    simulator.injectFault({ kind: 'reset' }, { times: 1 });
    await expect(call()).resolves.toMatchObject({ flowId: FLOW.flowId });
    expect(attempts.map((attempt) => attempt.code)).toEqual(['ConnectionFailed', 'OK']);
  });

  it('turns a malformed body into InvalidResponse, not a crash, and does not retry it', async () => {
    simulator.injectFault({ kind: 'malformed' });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false });
    expect(attempts).toHaveLength(1);
  });

  it('treats HTTP 200 with Code != OK as an error', async () => {
    simulator.injectFault({ kind: 'ok-with-code', code: 'Ram.PermissionDeny' });
    const error = await failure(call());
    expect(error).toMatchObject({ code: 'Ram.PermissionDeny', httpStatus: 200, retryable: false });
  });

  it('times out a slow answer', async () => {
    simulator.injectFault({ kind: 'latency', ms: 2000 });
    const impatient = createCamsClient({
      endpoint: simulator.endpoint,
      maxAttempts: 2,
      random: instantRandom,
      timeouts: { callMs: 150 },
    });
    const error = await failure(
      impatient.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS }),
    );
    expect(error).toMatchObject({ code: 'Timeout', retryable: true });
  });

  it("stops at the caller's deadline", async () => {
    simulator.injectFault({ kind: 'latency', ms: 2000 });
    const error = await failure(
      client.getFlow(
        { flowId: FLOW.flowId },
        { credentials: SIMULATOR_CREDENTIALS, deadlineMs: Date.now() + 200 },
      ),
    );
    expect(['Timeout', 'DeadlineExceeded']).toContain(error.code);
    const late = await failure(
      client.getFlow(
        { flowId: FLOW.flowId },
        { credentials: SIMULATOR_CREDENTIALS, deadlineMs: Date.now() - 1 },
      ),
    );
    expect(late.code).toBe('DeadlineExceeded');
  });

  it('stops when the caller aborts', async () => {
    simulator.injectFault({ kind: 'latency', ms: 2000 });
    const controller = new AbortController();
    const pending = client.getFlow(
      { flowId: FLOW.flowId },
      { credentials: SIMULATOR_CREDENTIALS, signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    expect(error.code).toBe('DeadlineExceeded');
  });

  it('reports a refused connection as ConnectionFailed', async () => {
    const nowhere = createCamsClient({
      endpoint: 'http://127.0.0.1:1',
      maxAttempts: 2,
      random: instantRandom,
    });
    const error = await failure(
      nowhere.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS }),
    );
    expect(error).toMatchObject({ code: 'ConnectionFailed', retryable: true });
    expect(error.message).toMatch(/CAMS_ENDPOINT/);
  });

  it('rejects an invalid FlowId before any call', async () => {
    const before = simulator.calls.length;
    await expect(call('../../etc/passwd')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      client.getFlow(
        { flowId: FLOW.flowId, custSpaceId: 'bad space' },
        { credentials: SIMULATOR_CREDENTIALS },
      ),
    ).rejects.toMatchObject({ code: 'InvalidParameter', field: 'custSpaceId' });
    expect(simulator.calls.length).toBe(before);
  });

  it('bounds one odd entry of a ListFlow page instead of refusing the page', async () => {
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => ({
          ...answer,
          Data: [
            { FlowId: '100000000000001', FlowName: 'n'.repeat(100_000), Categories: ['OTHER'] },
            {
              FlowId: '100000000000002',
              FlowName: 'fine',
              Categories: Array.from({ length: 1000 }, () => 'X'),
            },
            { FlowId: '100000000000003', FlowName: 'two\nlines', Categories: [] },
          ],
        }),
      },
      { action: 'ListFlow' },
    );
    const page = await client.listFlows(
      { pageIndex: 1, pageSize: 20 },
      { credentials: SIMULATOR_CREDENTIALS },
    );
    expect(page.flows.map((flow) => flow.flowId)).toEqual([
      '100000000000001',
      '100000000000002',
      '100000000000003',
    ]);
    expect(page.flows[0]?.flowName).toHaveLength(256);
    expect(page.flows[1]?.categories).toHaveLength(16);
    expect(page.flows[2]?.flowName).toBe('two lines');
  });

  it('reports an answer over the 1 MB it reads as larger than that (InvalidResponse, not retried, with the request id), not as "not JSON"', async () => {
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => ({
          ...answer,
          Data: Array.from({ length: 20_000 }, (_, index) => ({
            FlowId: String(990000000000000 + index),
            FlowName: `flow name number ${index}`,
          })),
        }),
      },
      { action: 'ListFlow' },
    );
    const error = await failure(
      client.listFlows(
        { custSpaceId: 'cs', pageIndex: 1, pageSize: 50 },
        { credentials: SIMULATOR_CREDENTIALS, onAttempt: (attempt) => attempts.push(attempt) },
      ),
    );
    expect(error).toMatchObject({ code: 'InvalidResponse', retryable: false, httpStatus: 200 });
    expect(error.message).toContain('body larger than the 1 MB this client reads');
    expect(error.message).not.toContain('not JSON');
    expect(error.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(attempts).toHaveLength(1);
  });

  it('lists flows page by page', async () => {
    const page = await client.listFlows(
      { pageIndex: 1, pageSize: 20 },
      { credentials: SIMULATOR_CREDENTIALS },
    );
    expect(page.flows).toContainEqual({
      flowId: FLOW.flowId,
      flowName: FLOW.flowName,
      categories: FLOW.categories,
    });
  });
});

describe('CAMS client wire format', () => {
  let server: Awaited<ReturnType<typeof startCaptureServer>>;
  const answer = {
    RequestId: 'REQ-1',
    Code: 'OK',
    Message: 'None',
    AccessDeniedDetail: null,
    Data: {
      Status: 'THROTTLED',
      FlowId: '926753328126431',
      FlowName: 'flow_001',
      Categories: ['SIGN_UP'],
      JSONVersion: '2.1',
      DataApiVersion: '3.0',
      PreviewUrl: 'https://pre-url',
      PreviewUrlExpires: 1700617436633,
      SomethingNew: { nested: true },
    },
  };
  beforeAll(async () => {
    server = await startCaptureServer(() => ({ status: 200, body: JSON.stringify(answer) }));
  });
  afterAll(() => server.close());

  it('sends what the official SDK sends', async () => {
    const credentials = { accessKeyId: 'STS.abc', accessKeySecret: 'sec', securityToken: 'tok' };
    const official = new Cams(
      new $OpenApi.Config({
        ...credentials,
        endpoint: server.endpoint.replace('http://', ''),
        protocol: 'http',
      }),
    );
    await official.getFlow(new $Cams.GetFlowRequest({ flowId: '926753328126431', custSpaceId: 'cams-1' }));
    const client = createCamsClient({ endpoint: server.endpoint });
    await client.getFlow({ flowId: '926753328126431', custSpaceId: 'cams-1' }, { credentials });

    const [theirs, ours] = server.captured.slice(-2);
    if (!theirs || !ours) throw new Error('requests not captured');
    expect(ours.method).toBe(theirs.method);
    expect(ours.url).toBe(theirs.url);
    expect(ours.body.toString()).toBe(theirs.body.toString());
    const significant = (headers: typeof ours.headers) =>
      Object.keys(headers)
        .filter(
          (name) =>
            ![
              'content-length',
              'transfer-encoding',
              'connection',
              'user-agent',
              'x-acs-credentials-provider',
            ].includes(name),
        )
        .sort();
    expect(significant(ours.headers)).toEqual(significant(theirs.headers));
    for (const name of [
      'content-type',
      'x-acs-action',
      'x-acs-version',
      'accept',
      'host',
      'x-acs-security-token',
    ]) {
      expect(ours.headers[name]).toBe(theirs.headers[name]);
    }
  });

  it('ignores unknown fields and converts the preview expiry to ISO 8601', async () => {
    const client = createCamsClient({ endpoint: server.endpoint });
    const flow = await client.getFlow({ flowId: '926753328126431' }, { credentials: SIMULATOR_ACCESS_KEY });
    expect(flow).toEqual({
      flowId: '926753328126431',
      flowName: 'flow_001',
      status: 'THROTTLED',
      categories: ['SIGN_UP'],
      jsonVersion: '2.1',
      dataApiVersion: '3.0',
      previewUrl: 'https://pre-url',
      previewUrlExpiresAt: '2023-11-22T01:43:56.633Z',
      endpointUri: undefined,
      requestId: 'REQ-1',
    });
  });
});

describe('CAMS client budget', () => {
  let simulator: CamsSimulator;
  beforeAll(async () => {
    simulator = await startCamsSimulator({ flows: [FLOW] });
  });
  afterAll(() => simulator.close());

  it('completes a burst of 50 concurrent calls with zero System.LimitControl at 5 calls/s', async () => {
    const client = createCamsClient({ endpoint: simulator.endpoint, qps: 5 });
    const attempts: CamsAttempt[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        client.getFlow(
          { flowId: FLOW.flowId },
          { credentials: SIMULATOR_CREDENTIALS, onAttempt: (a) => attempts.push(a) },
        ),
      ),
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(attempts.filter((attempt) => attempt.code !== 'OK')).toEqual([]);
    expect(simulator.calls.filter((entry) => entry.code === 'System.LimitControl')).toEqual([]);
  }, 30_000);
});

describe('CAMS client and its rate limiter', () => {
  it('settles or releases its slot on every path (retry, failure, deadline refusal, abort), so a shared limiter neither stalls nor loses a window', async () => {
    const simulator = await startCamsSimulator({ rateLimit: false, flows: [FLOW] });
    try {
      const clock = new VirtualClock(Date.now());
      const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
      const client = createCamsClient({
        endpoint: simulator.endpoint,
        clock,
        limiter,
        maxAttempts: 2,
        random: instantRandom,
      });
      const attempts: CamsAttempt[] = [];
      const options = { credentials: SIMULATOR_CREDENTIALS, onAttempt: (a: CamsAttempt) => attempts.push(a) };
      const flow = { flowId: FLOW.flowId };
      const startedAt = clock.now();

      simulator.injectFault({ kind: 'reset' }, { times: 1 });
      await expect(client.getFlow(flow, options)).resolves.toMatchObject({ flowId: FLOW.flowId });
      simulator.injectFault({ kind: 'http-status', httpStatus: 500 }, { times: 2 });
      await expect(client.getFlow(flow, options)).rejects.toMatchObject({ code: 'HttpError' });
      simulator.injectFault({ kind: 'malformed' }, { times: 1 });
      await expect(client.getFlow(flow, options)).rejects.toMatchObject({ code: 'InvalidResponse' });
      await expect(client.getFlow(flow, { ...options, deadlineMs: clock.now() + 500 })).rejects.toMatchObject(
        { code: 'DeadlineExceeded' },
      );
      const refusingBudget = {
        acquire: () => Promise.reject(new RateLimitWaitTooLongError(clock.now() + 5000)),
      };
      await expect(client.getFlow(flow, { ...options, budget: refusingBudget })).rejects.toMatchObject({
        code: 'DeadlineExceeded',
      });
      const controller = new AbortController();
      const aborted = client.getFlow(flow, { ...options, signal: controller.signal });
      controller.abort(new Error('caller gave up'));
      await expect(aborted).rejects.toMatchObject({ code: 'DeadlineExceeded' });
      await expect(client.getFlow(flow, options)).resolves.toMatchObject({ flowId: FLOW.flowId });

      expect(attempts.map((attempt) => attempt.code)).toEqual([
        'ConnectionFailed',
        'OK',
        'HttpError',
        'HttpError',
        'InvalidResponse',
        'OK',
      ]);
      // One window per attempt after the first (loopback answers take no virtual time); the call
      // refused by the limiter, the one refused by the budget after the limiter let it through
      // (its slot released, never sent) and the aborted one cost nothing.
      expect(clock.now() - startedAt).toBe(5000);
    } finally {
      await simulator.close();
    }
  });
});

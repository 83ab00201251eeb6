import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS } from '../../local/cams-simulator';
import { FcFunction, type FcFunctionOptions, serveFcHttp } from '../../local/fc-emulator';
import { startGateServer } from '../support/gate-server';
import { writeTestBundle } from '../support/test-bundle';

/**
 * Counts its invocations in module scope, so an answer shows which instance served it and
 * whether that instance was warm. Query parameters make it wait at a gate, fail or hang.
 */
const COUNTING_BUNDLE = writeTestBundle(`
let invocations = 0;
exports.handler = async (event, context) => {
  invocations += 1;
  const request = JSON.parse(event.toString('utf8'));
  const query = request.queryParameters || {};
  if (query.gate) await (await fetch(query.gate)).text();
  if (query.fail === 'throw') throw new TypeError('handler failed');
  if (query.fail === 'exit') process.exit(3);
  if (query.fail === 'uncaught') { setTimeout(() => { throw new Error('thrown later'); }, 0); await new Promise(() => {}); }
  if (query.fail === 'hang') await new Promise(() => {});
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ invocations, instance: process.env.FC_INSTANCE_ID, env: process.env, context }),
  };
};
`);

interface Served {
  status: number;
  headers: Headers;
  body: {
    invocations: number;
    instance: string;
    env: Record<string, string>;
    context: Record<string, unknown>;
  };
  text: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: Partial<FcFunctionOptions> = {}) {
  const fn = new FcFunction({ bundle: COUNTING_BUNDLE, env: { GREETING: 'hello' }, ...options });
  cleanups.push(() => fn.close());
  const server = await serveFcHttp(fn);
  cleanups.push(() => server.close());
  const get = async (query = ''): Promise<Served> => {
    const response = await fetch(`${server.url}/probe${query}`);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: response.status === 200 ? JSON.parse(text) : {},
    };
  };
  return { fn, get };
}

async function gate() {
  const gateServer = await startGateServer();
  cleanups.push(() => gateServer.close());
  return gateServer;
}

describe('FC emulator: instances', () => {
  it('starts one instance per concurrent request, each with fresh module state', async () => {
    const { fn, get } = await start();
    const held = await gate();
    const answers = Array.from({ length: 4 }, () => get(`?gate=${encodeURIComponent(held.url)}`));
    await held.arrived(4);
    expect(fn.stats()).toMatchObject({ instancesStarted: 4, busy: 4, requests: 4, throttled: 0 });
    held.release();
    const served = await Promise.all(answers);
    expect(served.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(served.map((answer) => answer.body.invocations)).toEqual([1, 1, 1, 1]);
    expect(new Set(served.map((answer) => answer.body.instance)).size).toBe(4);
    expect(fn.stats()).toMatchObject({ instancesAlive: 4, busy: 0 });
  });

  it('reuses a warm idle instance, whose module state survives between invocations', async () => {
    const { fn, get } = await start();
    const first = await get();
    const second = await get();
    const third = await get();
    expect([first, second, third].map((answer) => answer.body.invocations)).toEqual([1, 2, 3]);
    expect(new Set([first, second, third].map((answer) => answer.body.instance)).size).toBe(1);
    expect(fn.stats()).toMatchObject({ instancesStarted: 1, requests: 3 });
  });

  it('answers exactly the requests beyond the cap with 429 at once, like FC, and serves the rest', async () => {
    const { fn, get } = await start({ maxInstances: 3 });
    const held = await gate();
    const answers = Array.from({ length: 5 }, () => get(`?gate=${encodeURIComponent(held.url)}`));
    await held.arrived(3);
    const throttled = await Promise.race([
      Promise.all(answers.slice(3)),
      new Promise<never>((_resolve, reject) =>
        setTimeout(() => reject(new Error('the excess was queued, not refused')), 10_000),
      ),
    ]);
    expect(throttled.map((answer) => answer.status)).toEqual([429, 429]);
    expect(JSON.parse(throttled[0]?.text ?? '')).toEqual({
      errorCode: 'ResourceThrottled',
      errorMessage: 'Reserve resource exhausted',
    });
    expect(throttled[0]?.headers.get('x-fc-error-type')).toBe('FcCommonError');
    held.release();
    const served = await Promise.all(answers.slice(0, 3));
    expect(served.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(fn.stats()).toMatchObject({ instancesStarted: 3, requests: 5, throttled: 2 });
    expect((await get()).status).toBe(200);
    expect(fn.stats()).toMatchObject({ instancesStarted: 3, throttled: 2 });
  });

  it('gives an instance only the function environment and the variables FC sets', async () => {
    process.env.CFW_PARENT_ONLY = 'must not leak';
    cleanups.push(async () => {
      delete process.env.CFW_PARENT_ONLY;
    });
    const { get } = await start({ credentials: SIMULATOR_CREDENTIALS, functionName: 'probe-fn' });
    const { env } = (await get()).body;
    expect(env).toEqual({
      GREETING: 'hello',
      FC_FUNCTION_NAME: 'probe-fn',
      FC_FUNCTION_HANDLER: 'index.handler',
      FC_FUNCTION_MEMORY_SIZE: '256',
      FC_INSTANCE_ID: 'local-probe-fn-1',
      ALIBABA_CLOUD_ACCESS_KEY_ID: SIMULATOR_CREDENTIALS.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: SIMULATOR_CREDENTIALS.accessKeySecret,
      ALIBABA_CLOUD_SECURITY_TOKEN: SIMULATOR_CREDENTIALS.securityToken,
    });
  });

  it('refuses function variables in FC’s reserved FC_ namespace', () => {
    expect(() => new FcFunction({ bundle: COUNTING_BUNDLE, env: { FC_REGION: 'x' } })).toThrow(/FC_REGION/);
  });

  it('hands each invocation its credentials and the function’s timeout in the context', async () => {
    const { fn } = await start({ timeoutSeconds: 7 });
    const other = { accessKeyId: 'STS.other', accessKeySecret: 'other-secret', securityToken: 'token' };
    const invocation = await fn.invoke(Buffer.from('{}'), { credentials: other, requestId: 'req-1' });
    expect(invocation.ok).toBe(true);
    const { context } = JSON.parse((invocation as { value: { body: string } }).value.body);
    expect(context).toMatchObject({ requestId: 'req-1', credentials: other, function: { timeout: 7 } });
  });

  it('answers 502 for a thrown error and keeps the instance warm', async () => {
    const { fn, get } = await start();
    const failed = await get('?fail=throw');
    expect(failed.status).toBe(502);
    expect(failed.headers.get('x-fc-error-type')).toBe('UnhandledInvocationError');
    expect(JSON.parse(failed.text)).toEqual({ errorType: 'TypeError', errorMessage: 'handler failed' });
    expect((await get()).body.invocations).toBe(2);
    expect(fn.stats()).toMatchObject({ instancesStarted: 1, crashed: 0 });
  });

  it.each(['exit', 'uncaught'])('answers 502 when the instance dies (%s) and replaces it', async (fail) => {
    const { fn, get } = await start();
    const crashed = await get(`?fail=${fail}`);
    expect(crashed.status).toBe(502);
    expect(JSON.parse(crashed.text).errorMessage).toMatch(/^Process exited unexpectedly/);
    expect(fn.stats()).toMatchObject({ instancesAlive: 0, crashed: 1 });
    const next = await get();
    expect(next.body).toMatchObject({ invocations: 1, instance: expect.stringMatching(/-2$/) });
  });

  it('stops an invocation at the function timeout with 502 and recycles its instance', async () => {
    const { fn, get } = await start({ timeoutSeconds: 2 });
    const timedOut = await get('?fail=hang');
    expect(timedOut.status).toBe(502);
    expect(JSON.parse(timedOut.text)).toEqual({
      errorType: 'FunctionTimeout',
      errorMessage: 'Function timed out after 2 seconds',
    });
    expect(fn.stats()).toMatchObject({ timedOut: 1, instancesAlive: 0 });
    expect((await get()).body).toMatchObject({ invocations: 1, instance: expect.stringMatching(/-2$/) });
  });

  it('starts the timeout once the code is loaded, as FC does, so a slow cold start is not a timeout', async () => {
    const slowLoading = writeTestBundle(`
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
exports.handler = async () => ({ statusCode: 200, body: '{}' });
`);
    const { fn, get } = await start({ bundle: slowLoading, timeoutSeconds: 1 });
    expect((await get()).status).toBe(200);
    expect(fn.stats()).toMatchObject({ timedOut: 0 });
  });

  it('answers 502 with the error when the code fails to load, and loads it afresh next time', async () => {
    const broken = writeTestBundle("throw new SyntaxError('bundle is broken');");
    const { fn, get } = await start({ bundle: broken });
    const failed = await get();
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text)).toEqual({ errorType: 'SyntaxError', errorMessage: 'bundle is broken' });
    expect((await get()).status).toBe(502);
    expect(fn.stats()).toMatchObject({ instancesStarted: 2, instancesAlive: 0 });
  });

  it('terminates every instance on close, answering what still runs with 502', async () => {
    const { fn } = await start();
    const held = await gate();
    const running = fn.invoke(Buffer.from(JSON.stringify({ queryParameters: { gate: held.url } })));
    await held.arrived(1);
    await fn.invoke(Buffer.from('{}'));
    expect(fn.stats()).toMatchObject({ instancesAlive: 2 });
    await fn.close();
    expect(fn.stats()).toMatchObject({ instancesAlive: 0 });
    expect(await running).toMatchObject({ ok: false, error: { statusCode: 502 } });
    await expect(fn.invoke(Buffer.from('{}'))).rejects.toThrow(/closed/);
  });
});

import { request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import {
  type FcContext,
  FcFunction,
  type FcFunctionOptions,
  fcHttpEvent,
  fcTimerEvent,
  serveFcHttp,
} from '../../local/fc-emulator';
import { writeTestBundle } from '../support/test-bundle';
import { HTTP_BUNDLE } from './harness';

interface Seen {
  event: Record<string, unknown>;
  context: FcContext;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serveFunction(options: FcFunctionOptions, trigger: { customDomain?: boolean } = {}) {
  const fn = new FcFunction(options);
  cleanups.push(() => fn.close());
  const server = await serveFcHttp(fn, trigger);
  cleanups.push(() => server.close());
  return server;
}

/**
 * Serves a bundle that answers `answer` and reports every event and context it saw on its
 * stdout, which the emulator hands to `log` line by line (as FC ships it to SLS) — on its own
 * channel, so a line may arrive just after the answer.
 */
async function serve(answer: unknown, trigger: { customDomain?: boolean } = {}) {
  const seen: Seen[] = [];
  const bundle = writeTestBundle(`
exports.handler = async (event, context) => {
  console.log(JSON.stringify({ event: JSON.parse(event.toString('utf8')), context }));
  return ${JSON.stringify(answer)};
};
`);
  const server = await serveFunction(
    {
      bundle,
      env: {},
      credentials: SIMULATOR_CREDENTIALS,
      timeoutSeconds: 7,
      maxInstances: 1,
      log: (line) => seen.push(JSON.parse(line) as Seen),
    },
    trigger,
  );
  return { url: server.url, seen };
}

function send(
  url: string,
  options: { method?: string; path: string; headers?: Array<[string, string]>; body?: Buffer },
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const target = new URL(options.path, url);
    const outgoing = request(target, { method: options.method ?? 'GET' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    outgoing.on('error', reject);
    for (const [name, value] of options.headers ?? []) outgoing.appendHeader(name, value);
    outgoing.end(options.body);
  });
}

describe('fc-emulator', () => {
  it('builds FC v1 HTTP and timer events as Buffers', () => {
    const http = JSON.parse(
      fcHttpEvent({ method: 'POST', path: '/x', headers: { A: '1' }, query: { q: 'v' } }).toString(),
    );
    expect(http).toMatchObject({
      version: 'v1',
      rawPath: '/x',
      headers: { A: '1' },
      queryParameters: { q: 'v' },
      requestContext: { http: { method: 'POST', path: '/x' } },
    });
    const timer = JSON.parse(fcTimerEvent({ triggerName: 'tick', payload: '{}' }).toString());
    expect(timer).toMatchObject({ triggerName: 'tick', payload: '{}', triggerTime: expect.any(String) });
  });

  it('turns a request into the v1 event: comma-joined repeats, query, context', async () => {
    const { url, seen } = await serve({ statusCode: 201, headers: { 'x-answer': 'yes' }, body: 'made' });
    const answer = await send(url, {
      path: '/flows/1?custSpaceId=a&tag=x&tag=y',
      headers: [
        ['X-Repeat', 'one'],
        ['X-Repeat', 'two'],
      ],
    });
    expect(answer).toMatchObject({ status: 201, headers: { 'x-answer': 'yes' } });
    expect(answer.body.toString()).toBe('made');
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    const [call] = seen;
    expect(call?.event).toMatchObject({
      rawPath: '/flows/1',
      queryParameters: { custSpaceId: 'a', tag: 'x,y' },
      headers: { 'X-Repeat': 'one,two' },
    });
    expect(call?.context).toMatchObject({ credentials: SIMULATOR_CREDENTIALS, function: { timeout: 7 } });
  });

  it('passes binary bodies base64-encoded and text bodies as they are', async () => {
    const { url, seen } = await serve({ statusCode: 200, body: '' });
    const binary = Buffer.from([0, 255, 1, 254]);
    await send(url, {
      method: 'POST',
      path: '/',
      headers: [['content-type', 'application/octet-stream']],
      body: binary,
    });
    await send(url, {
      method: 'POST',
      path: '/',
      headers: [['content-type', 'application/json']],
      body: Buffer.from('{"a":1}'),
    });
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen[0]?.event).toMatchObject({ isBase64Encoded: true, body: binary.toString('base64') });
    expect(seen[1]?.event).toMatchObject({ isBase64Encoded: false, body: '{"a":1}' });
  });

  it("forces downloads on FC's default domain (Content-Disposition: attachment), not through a custom domain", async () => {
    const page = {
      statusCode: 200,
      headers: { 'content-type': 'text/html', 'Content-Disposition': 'inline' },
      body: '<p>',
    };
    const onDefault = await send((await serve(page)).url, { path: '/' });
    expect(onDefault.headers['content-disposition']).toBe('attachment');
    expect(onDefault.body.toString()).toBe('<p>');
    const onCustom = await send((await serve(page, { customDomain: true })).url, { path: '/' });
    expect(onCustom.headers['content-disposition']).toBe('inline');
  });

  it('passes on answer headers named like inherited object properties', async () => {
    const answer = { statusCode: 200, headers: { constructor: 'kept', toString: 'kept too' }, body: 'ok' };
    const { headers } = await send((await serve(answer)).url, { path: '/' });
    expect(headers.constructor).toBe('kept');
    expect(headers.tostring).toBe('kept too');
  });

  it('decodes base64 answers and sends no body to HEAD', async () => {
    const { url } = await serve({
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream' },
      isBase64Encoded: true,
      body: Buffer.from([9, 8, 7]).toString('base64'),
    });
    expect([...(await send(url, { path: '/' })).body]).toEqual([9, 8, 7]);
    const head = await send(url, { method: 'HEAD', path: '/' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('answers 502 when the handler throws, as FC does', async () => {
    const server = await serveFunction({
      bundle: writeTestBundle("exports.handler = async () => { throw new Error('boom'); };"),
      env: {},
    });
    const answer = await send(server.url, { path: '/' });
    expect(answer.status).toBe(502);
    expect(answer.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(JSON.parse(answer.body.toString())).toEqual({ errorType: 'Error', errorMessage: 'boom' });
  });

  it('serves the built HTTP bundle over real HTTP against the simulator', async () => {
    const simulator = await startCamsSimulator({
      flows: [{ flowId: '926753328126499', flowName: 'served', status: 'DRAFT' }],
      rateLimit: false,
    });
    try {
      const server = await serveFunction({
        bundle: HTTP_BUNDLE,
        env: { CAMS_ENDPOINT: simulator.endpoint, HTTP_API_TOKENS: 'served-token' },
        credentials: SIMULATOR_CREDENTIALS,
        log: () => {},
      });
      const flow = await send(server.url, {
        path: '/flows/926753328126499',
        headers: [['Authorization', 'Bearer served-token']],
      });
      expect(flow.status).toBe(200);
      expect(JSON.parse(flow.body.toString())).toMatchObject({ flowId: '926753328126499', status: 'DRAFT' });
      const preview = await send(server.url, {
        method: 'HEAD',
        path: '/flows/926753328126499/preview',
        headers: [['authorization', 'Bearer served-token']],
      });
      expect(preview.status).toBe(302);
      expect(preview.headers.location).toEqual(expect.any(String));
    } finally {
      await simulator.close();
    }
  });
});

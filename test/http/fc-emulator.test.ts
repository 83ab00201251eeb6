import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { type FcContext, fcHttpEvent, fcTimerEvent, serveFcHttp } from '../../local/fc-emulator';
import { coldStart } from './harness';

interface Seen {
  event: Record<string, unknown>;
  context: FcContext;
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(answer: unknown) {
  const seen: Seen[] = [];
  const server = await serveFcHttp(
    async (event, context) => {
      seen.push({ event: JSON.parse(event.toString('utf8')) as Record<string, unknown>, context });
      return answer;
    },
    { credentials: SIMULATOR_CREDENTIALS, timeoutSeconds: 7 },
  );
  close = server.close;
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
    expect(seen[0]?.event).toMatchObject({ isBase64Encoded: true, body: binary.toString('base64') });
    expect(seen[1]?.event).toMatchObject({ isBase64Encoded: false, body: '{"a":1}' });
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
    const server = await serveFcHttp(async () => {
      throw new Error('boom');
    });
    close = server.close;
    expect((await send(server.url, { path: '/' })).status).toBe(502);
  });

  it('serves the built HTTP bundle over real HTTP against the simulator', async () => {
    const simulator = await startCamsSimulator({
      flows: [{ flowId: '926753328126499', flowName: 'served', status: 'DRAFT' }],
      rateLimit: false,
    });
    try {
      const { handler } = coldStart({
        CAMS_ENDPOINT: simulator.endpoint,
        HTTP_API_TOKENS: 'served-token',
        HTTP_AUTH: undefined,
        CAMS_CUST_SPACE_ID: undefined,
      });
      const server = await serveFcHttp(handler, { credentials: SIMULATOR_CREDENTIALS });
      close = server.close;
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

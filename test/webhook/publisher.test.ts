import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import type { Clock } from '../../shared/clock';
import {
  ConfigError,
  createWebhookPublisher,
  type FlowEvent,
  parseWebhookEndpoints,
  signStandard,
  type WebhookEndpoint,
} from '../../shared/webhook';
import { VirtualClock } from '../support/virtual-clock';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const NOW = Date.parse('2026-01-01T00:00:00Z');
/** A fixed time that never moves on, so stamps are predictable and the attempt never times out. */
const clock: Clock = {
  now: () => NOW,
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
};

const event: FlowEvent = {
  id: 'evt_abc123',
  type: 'flow.status_changed',
  timestamp: '2026-11-25T05:59:58.000Z',
  data: {
    flowId: '333993838',
    custSpaceId: 'cs-1',
    flowName: 'Signup',
    previousStatus: 'DRAFT',
    status: 'PUBLISHED',
    observedAt: '2026-11-25T05:59:58.000Z',
  },
};

const receivers: WebhookReceiver[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
});

async function receiver(secret = SECRET): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver({ secret });
  receivers.push(started);
  return started;
}

async function rawServer(
  answer: (body: string, url: string) => { status: number; body?: string; headers?: Record<string, string> },
): Promise<{ url: string; bodies: Array<{ body: string; url: string }> }> {
  const bodies: Array<{ body: string; url: string }> = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    bodies.push({ body, url: req.url ?? '' });
    const reply = answer(body, req.url ?? '');
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body ?? '');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?access_token=tok`, bodies };
}

function endpoint(
  url: string,
  format: WebhookEndpoint['format'] = 'standard',
  secret = SECRET,
): WebhookEndpoint {
  return { id: 'ep1', url, format, secret };
}

describe('standard format', () => {
  it('delivers a payload the standardwebhooks library verifies', async () => {
    const r = await receiver();
    const publisher = createWebhookPublisher();
    const outcome = await publisher.deliver(event, endpoint(r.url));
    expect(outcome).toEqual({ kind: 'delivered', httpStatus: 204 });
    const delivery = r.received[0];
    expect(delivery?.verified).toBe(true);
    expect(delivery?.id).toBe('evt_abc123');
    const signed = {
      'webhook-id': String(delivery?.headers['webhook-id']),
      'webhook-timestamp': String(delivery?.headers['webhook-timestamp']),
      'webhook-signature': String(delivery?.headers['webhook-signature']),
    };
    expect(() => new Webhook(SECRET).verify(delivery?.body ?? '', signed)).not.toThrow();
    expect(JSON.parse(delivery?.body ?? '')).toEqual({
      type: event.type,
      timestamp: event.timestamp,
      data: event.data,
    });
  });

  it('a receiver refusing the signature (wrong WEBHOOK_SECRET) is a retry whose reason says so', async () => {
    const r = await receiver();
    const wrongSecret = `whsec_${Buffer.from('another secret, not the receiver one').toString('base64')}`;
    const outcome = await createWebhookPublisher().deliver(event, endpoint(r.url, 'standard', wrongSecret));
    expect(outcome).toMatchObject({ kind: 'retry', httpStatus: 401 });
    expect(outcome.kind === 'retry' && outcome.reason).toMatch(/check that WEBHOOK_SECRET/);
    expect(r.received[0]?.verified).toBe(false);
  });

  it('stamps and signs with the injected clock', async () => {
    const r = await receiver();
    await createWebhookPublisher({ clock }).deliver(event, endpoint(r.url));
    const delivery = r.received[0];
    expect(delivery?.headers['webhook-timestamp']).toBe(String(NOW / 1000));
    const headers = {
      'webhook-id': String(delivery?.headers['webhook-id']),
      'webhook-timestamp': String(delivery?.headers['webhook-timestamp']),
      'webhook-signature': String(delivery?.headers['webhook-signature']),
    };
    // The library's ±5 min window uses the real clock, so the injected-clock signature is checked directly.
    const key = Buffer.from(SECRET.slice(6), 'base64');
    const expected = createHmac('sha256', key)
      .update(`evt_abc123.${NOW / 1000}.${delivery?.body}`)
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
  });

  it('signs so that the reference library verifies with the very string configured as WEBHOOK_SECRET', async () => {
    const generated = randomBytes(32).toString('base64'); // what `openssl rand -base64 32` prints
    const configured = `whsec_${generated}`;
    const r = await receiver(configured);
    const [configuredEndpoint] = parseWebhookEndpoints({ WEBHOOK_URL: r.url, WEBHOOK_SECRET: configured });
    if (!configuredEndpoint) throw new Error('no endpoint parsed');
    expect(await createWebhookPublisher().deliver(event, configuredEndpoint)).toMatchObject({
      kind: 'delivered',
    });
    const delivery = r.received[0];
    expect(delivery?.verified).toBe(true);
    const signed = {
      'webhook-id': String(delivery?.headers['webhook-id']),
      'webhook-timestamp': String(delivery?.headers['webhook-timestamp']),
      'webhook-signature': String(delivery?.headers['webhook-signature']),
    };
    expect(() => new Webhook(configured).verify(delivery?.body ?? '', signed)).not.toThrow();
    // The library drops the prefix itself, so a receiver given only the base64 part verifies too.
    expect(() => new Webhook(generated).verify(delivery?.body ?? '', signed)).not.toThrow();
  });

  it('refuses a secret without whsec_ at cold start, saying to prefix it, instead of signing what no receiver verifies', () => {
    const generated = Buffer.alloc(32, 0x7a).toString('base64'); // 'enp6…': 'zz' never echoed
    let thrown: unknown;
    try {
      parseWebhookEndpoints({ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: generated });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe('WEBHOOK_SECRET');
    expect((thrown as ConfigError).message).toMatch(/must start with whsec_.*openssl rand -base64 32/);
    expect((thrown as ConfigError).message).not.toContain(generated);
  });

  it('signs with the key the reference library derives from the same string, prefix or not', () => {
    const generated = randomBytes(24).toString('base64');
    for (const secret of [`whsec_${generated}`, generated]) {
      const library = new Webhook(secret).sign('evt_abc123', new Date(NOW), '{}');
      expect(signStandard(secret, 'evt_abc123', NOW / 1000, '{}')).toBe(library);
    }
  });
});

describe('other formats', () => {
  it('meta: Cloud API flows envelope signed with X-Hub-Signature-256', async () => {
    const r = await receiver('app-secret');
    const outcome = await createWebhookPublisher().deliver(event, endpoint(r.url, 'meta', 'app-secret'));
    expect(outcome.kind).toBe('delivered');
    const delivery = r.received[0];
    expect(delivery?.verified).toBe(true);
    expect(delivery?.id).toBe('evt_abc123');
    const body = JSON.parse(delivery?.body ?? '');
    expect(body.object).toBe('whatsapp_business_account');
    expect(body.entry[0].changes[0]).toMatchObject({
      field: 'flows',
      value: {
        event: 'FLOW_STATUS_CHANGE',
        flow_id: '333993838',
        old_status: 'DRAFT',
        new_status: 'PUBLISHED',
      },
    });
  });

  it('dingtalk: signs the query and judges errcode', async () => {
    let errcode = 0;
    const server = await rawServer(() => ({ status: 200, body: JSON.stringify({ errcode, errmsg: 'x' }) }));
    const publisher = createWebhookPublisher({ clock });
    expect(await publisher.deliver(event, endpoint(server.url, 'dingtalk', 'SECdemo'))).toEqual({
      kind: 'delivered',
      httpStatus: 200,
    });
    const query = new URL(server.bodies[0]?.url ?? '', 'http://x').searchParams;
    expect(query.get('access_token')).toBe('tok');
    expect(query.get('timestamp')).toBe(String(NOW));
    expect(query.get('sign')).toBe(
      createHmac('sha256', 'SECdemo').update(`${NOW}\nSECdemo`).digest('base64'),
    );
    expect(JSON.parse(server.bodies[0]?.body ?? '')).toMatchObject({
      msgtype: 'text',
      text: { content: expect.stringContaining('PUBLISHED') },
    });
    errcode = 310000;
    const refused = await publisher.deliver(event, endpoint(server.url, 'dingtalk', 'SECdemo'));
    expect(refused).toMatchObject({ kind: 'retry', httpStatus: 200 });
    if (refused.kind === 'retry') expect(refused.reason).not.toMatch(/SECdemo|tok/);
  });

  it('feishu: signs with key timestamp\\nsecret and judges code', async () => {
    let answer: object = { code: 0 };
    const server = await rawServer(() => ({ status: 200, body: JSON.stringify(answer) }));
    const publisher = createWebhookPublisher({ clock });
    expect((await publisher.deliver(event, endpoint(server.url, 'feishu', 'fs'))).kind).toBe('delivered');
    const body = JSON.parse(server.bodies[0]?.body ?? '');
    const ts = String(NOW / 1000);
    expect(body).toMatchObject({ timestamp: ts, msg_type: 'text' });
    expect(body.sign).toBe(createHmac('sha256', `${ts}\nfs`).update('').digest('base64'));
    answer = { StatusCode: 0 };
    expect((await publisher.deliver(event, endpoint(server.url, 'feishu', 'fs'))).kind).toBe('delivered');
    answer = { code: 19021, msg: 'sign match fail' };
    expect((await publisher.deliver(event, endpoint(server.url, 'feishu', 'fs'))).kind).toBe('retry');
  });

  it('slack: posts {text}', async () => {
    const server = await rawServer(() => ({ status: 200, body: 'ok' }));
    const outcome = await createWebhookPublisher().deliver(event, {
      id: 's',
      url: server.url,
      format: 'slack',
    });
    expect(outcome.kind).toBe('delivered');
    expect(JSON.parse(server.bodies[0]?.body ?? '').text).toContain('PUBLISHED');
  });
});

describe('delivery outcomes', () => {
  it('410 means gone', async () => {
    const r = await receiver();
    r.setResponse(410);
    expect(await createWebhookPublisher().deliver(event, endpoint(r.url))).toEqual({
      kind: 'gone',
      httpStatus: 410,
    });
  });

  it('429 with Retry-After seconds and 503 with an HTTP-date give retryAfterMs', async () => {
    const r = await receiver();
    const publisher = createWebhookPublisher({ clock });
    r.setResponse({ status: 429, headers: { 'retry-after': '7' } });
    expect(await publisher.deliver(event, endpoint(r.url))).toMatchObject({
      kind: 'retry',
      httpStatus: 429,
      retryAfterMs: 7000,
    });
    r.setResponse({ status: 503, headers: { 'retry-after': new Date(NOW + 120_000).toUTCString() } });
    expect(await publisher.deliver(event, endpoint(r.url))).toMatchObject({
      kind: 'retry',
      httpStatus: 503,
      retryAfterMs: 120_000,
    });
  });

  it.each([
    ['standard', /check that WEBHOOK_SECRET is the receiver's secret$/],
    ['meta', /check that WEBHOOK_SECRET is the receiver's secret$/],
    ['slack', /check the webhook URL \(its token\) and the receiver's access rules$/],
    ['feishu', /check the webhook URL \(its token\) and the receiver's access rules$/],
    ['dingtalk', /check the webhook URL \(its token\) and the receiver's access rules$/],
  ] as const)(
    'a 401/403 from a %s receiver is a retry whose reason names what that format can get wrong',
    async (format, advice) => {
      for (const status of [401, 403]) {
        const server = await rawServer(() => ({ status }));
        const outcome = await createWebhookPublisher().deliver(event, endpoint(server.url, format));
        expect(outcome).toMatchObject({ kind: 'retry', httpStatus: status });
        const reason = outcome.kind === 'retry' ? outcome.reason : '';
        expect(reason).toMatch(advice);
        if (!advice.source.includes('WEBHOOK_SECRET')) expect(reason).not.toContain('WEBHOOK_SECRET');
      }
    },
  );

  it('500 and 3xx are retries; redirects are not followed', async () => {
    const r = await receiver();
    const publisher = createWebhookPublisher();
    r.setResponse(500);
    expect(await publisher.deliver(event, endpoint(r.url))).toMatchObject({ kind: 'retry', httpStatus: 500 });
    r.setResponse({ status: 302, headers: { location: `${r.url}/elsewhere` } });
    const redirected = await publisher.deliver(event, endpoint(r.url));
    expect(redirected).toMatchObject({ kind: 'retry', httpStatus: 302 });
    expect(r.received).toHaveLength(2);
  });

  it('a server that never answers is a timeout retry', async () => {
    const r = await receiver();
    r.setResponse(() => 'hang');
    const outcome = await createWebhookPublisher({ timeoutMs: 200 }).deliver(event, endpoint(r.url));
    expect(outcome).toEqual({ kind: 'retry', reason: 'timeout' });
  });

  it('times the attempt on the injected clock: a hang costs the timeout in virtual time, not real time', async () => {
    const r = await receiver();
    r.setResponse(() => 'hang');
    const virtual = new VirtualClock(0);
    const startedAt = Date.now();
    const outcome = await createWebhookPublisher({ clock: virtual }).deliver(event, endpoint(r.url));
    expect(outcome).toEqual({ kind: 'retry', reason: 'timeout' });
    expect(virtual.now()).toBe(15_000);
    expect(Date.now() - startedAt).toBeLessThan(9_000);
  });

  it("the caller's abort signal ends the attempt as a retry", async () => {
    const r = await receiver();
    r.setResponse(() => 'hang');
    const controller = new AbortController();
    const pending = createWebhookPublisher().deliver(event, endpoint(r.url), { signal: controller.signal });
    setImmediate(() => controller.abort());
    expect(await pending).toEqual({ kind: 'retry', reason: 'aborted by caller' });
  });

  it('connection refused is a retry whose reason has no url secrets', async () => {
    const server = await rawServer(() => ({ status: 200 }));
    const url = server.url;
    const s = servers.pop();
    s?.closeAllConnections();
    await new Promise<void>((resolve) => s?.close(() => resolve()));
    const outcome = await createWebhookPublisher().deliver(event, endpoint(url, 'dingtalk', 'SECdemo'));
    expect(outcome.kind).toBe('retry');
    if (outcome.kind === 'retry') {
      expect(outcome.reason).toMatch(/connection failed/);
      expect(outcome.reason).not.toMatch(/tok|SECdemo|127\.0\.0\.1/);
    }
  });
});

describe('parseWebhookEndpoints', () => {
  it('returns [] without WEBHOOK_URL', () => {
    expect(parseWebhookEndpoints({})).toEqual([]);
  });

  it('splits, trims and ignores empty entries, with stable ids', () => {
    const env = {
      WEBHOOK_URL: ' https://a.example/h , ,https://b.example/h?token=zz ',
      WEBHOOK_SECRET: SECRET,
    };
    const endpoints = parseWebhookEndpoints(env);
    expect(endpoints.map((e) => e.url)).toEqual(['https://a.example/h', 'https://b.example/h?token=zz']);
    expect(endpoints[0]?.format).toBe('standard');
    expect(endpoints[0]?.id).toMatch(/^[0-9a-f]{12}$/);
    expect(parseWebhookEndpoints(env)[1]?.id).toBe(endpoints[1]?.id);
    expect(endpoints[1]?.id).not.toContain('zz');
  });

  it.each([
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_FORMAT: 'teams', WEBHOOK_SECRET: 's' }, 'WEBHOOK_FORMAT'],
    [{ WEBHOOK_URL: 'https://a.example' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URL: 'https://a.example,ftp://b.example/?token=zz', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URL'],
    [{ WEBHOOK_URL: 'not a url?token=zz', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URL'],
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: 'short-secret-zz' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: `whsec_${'zz'.repeat(5)}` }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: `whsec_zz${'A'.repeat(100)}` }, 'WEBHOOK_SECRET'],
    [
      { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: 'whsec_zz!!not-base64-zz-zz-zz-zz-zz-zz' },
      'WEBHOOK_SECRET',
    ],
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: 'zz'.repeat(33) }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: `whsec_zz${'A'.repeat(41)}` }, 'WEBHOOK_SECRET'],
    [
      { WEBHOOK_URL: 'https://a.example', WEBHOOK_SECRET: Buffer.alloc(32, 0x7a).toString('base64') },
      'WEBHOOK_SECRET',
    ],
    // A user:password@ is never sent (no Authorization header): refused, not silently dropped.
    [{ WEBHOOK_URL: 'http://hookzz:s3cretzz@127.0.0.1:9/in', WEBHOOK_FORMAT: 'slack' }, 'WEBHOOK_URL'],
    [{ WEBHOOK_URL: 'https://a.example/h,https://zz@b.example/h', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URL'],
    [{ WEBHOOK_URL: 'https://:zzpw@a.example/h', WEBHOOK_SECRET: SECRET }, 'WEBHOOK_URL'],
  ])('rejects %j naming %s', (env, variable) => {
    let thrown: unknown;
    try {
      parseWebhookEndpoints(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).variable).toBe(variable);
    expect((thrown as ConfigError).message).not.toContain('zz');
  });

  it('slack needs no secret', () => {
    expect(
      parseWebhookEndpoints({ WEBHOOK_URL: 'https://hooks.slack.example/x', WEBHOOK_FORMAT: 'slack' }),
    ).toHaveLength(1);
  });
});

/** A receiver that answers `status` at once, then its body one byte at a time until the connection closes. */
async function tricklingServer(status: number, first: string): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    hits += 1;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.write(first);
    const drip = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(drip));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hits: () => hits };
}

describe('answer bodies', () => {
  it.each(['standard', 'meta', 'slack'] as const)(
    '%s: a 2xx whose body trickles past every timeout is delivered, sent once',
    async (format) => {
      const server = await tricklingServer(200, 'ok');
      const publisher = createWebhookPublisher({ timeoutMs: 300, drainMs: 50 });
      expect(await publisher.deliver(event, endpoint(server.url, format))).toEqual({
        kind: 'delivered',
        httpStatus: 200,
      });
      expect(server.hits()).toBe(1);
    },
  );

  it('drains a trickling body on the injected clock, like the attempt, and then closes it', async () => {
    const server = await tricklingServer(200, 'ok');
    const startedAt = Date.now();
    // Time holds still while the request goes out and the headers come back (real loopback I/O).
    const virtual = new VirtualClock(0, { isBusy: () => Date.now() - startedAt < 200 });
    const outcome = await createWebhookPublisher({ clock: virtual, drainMs: 1000 }).deliver(
      event,
      endpoint(server.url),
    );
    expect(outcome).toEqual({ kind: 'delivered', httpStatus: 200 });
    expect(virtual.now()).toBe(1000);
    expect(Date.now() - startedAt).toBeLessThan(900);
  });

  it('a non-2xx whose body trickles is judged by its status', async () => {
    const server = await tricklingServer(503, 'busy');
    const outcome = await createWebhookPublisher({ timeoutMs: 300, drainMs: 50 }).deliver(
      event,
      endpoint(server.url),
    );
    expect(outcome).toEqual({ kind: 'retry', httpStatus: 503, reason: 'HTTP 503' });
  });

  it('a body that never ends is cut after 64 KB, not read to its end', async () => {
    let closed = false;
    const server = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => {
        closed = true;
      });
      pump();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    // Budgets far beyond the test's own timeout: only the 64 KB cut can end this read.
    const publisher = createWebhookPublisher({ timeoutMs: 600_000, drainMs: 600_000 });
    expect(await publisher.deliver(event, endpoint(url))).toEqual({ kind: 'delivered', httpStatus: 200 });
    await expect.poll(() => closed).toBe(true);
  });

  it('dingtalk: a 2xx whose verdict never arrives is retried, saying the message may have been posted', async () => {
    const server = await tricklingServer(200, '{"errcode":0');
    const outcome = await createWebhookPublisher({ timeoutMs: 300 }).deliver(
      event,
      endpoint(server.url, 'dingtalk', 'SECdemo'),
    );
    expect(outcome).toMatchObject({ kind: 'retry', httpStatus: 200 });
    if (outcome.kind === 'retry') {
      expect(outcome.reason).toMatch(/body did not arrive \(timeout\).*may have posted/);
      expect(outcome.reason).not.toMatch(/SECdemo|127\.0\.0\.1/);
    }
    expect(server.hits()).toBe(1);
  });

  it('feishu: a verdict that arrives slowly but within the attempt is judged', async () => {
    const server = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"code":');
      setTimeout(() => res.end('0}'), 200);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const outcome = await createWebhookPublisher({ timeoutMs: 30_000, drainMs: 10 }).deliver(
      event,
      endpoint(url, 'feishu', 'fs'),
    );
    expect(outcome).toEqual({ kind: 'delivered', httpStatus: 200 });
  });
});

describe('events that cannot be built', () => {
  it.each(['standard', 'meta', 'dingtalk', 'feishu', 'slack'] as const)(
    '%s: a hostile field is a retry outcome, never a throw, and nothing is sent',
    async (format) => {
      const server = await rawServer(() => ({ status: 200, body: '{"errcode":0,"code":0}' }));
      // No string form for the chat and meta texts; no JSON form (a BigInt) for the standard body.
      const hostile = {
        ...event,
        data: { ...event.data, previousStatus: { toString: null }, size: 10n },
      } as unknown as FlowEvent;
      const outcome = await createWebhookPublisher().deliver(
        hostile,
        endpoint(server.url, format, 'SECdemo'),
      );
      expect(outcome).toEqual({
        kind: 'retry',
        reason: expect.stringMatching(/cannot be built \(TypeError\)/),
        isUnsent: true,
      });
      expect(server.bodies).toHaveLength(0);
    },
  );
});

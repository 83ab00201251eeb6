import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { FcFunction, fcContext, loadBundle, serveFcHttp } from '../../local/fc-emulator';
import { buildVersion } from '../../scripts/build-version.mjs';
import { deployTimingOf } from '../../scripts/smoke/deploy-timing';
import { runSmokeCli } from '../../scripts/smoke/run';
import { repoRoot } from './render-s-yaml';

/** What scripts/build.mjs baked into the bundles: package version + git commit. */
const builtVersion = buildVersion(join(__dirname, '../..'));

const credentialsEnv = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'STS.deployer',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'deployer-secret-never-printed',
};
let simulator: CamsSimulator;
const servers: Array<{ close(): Promise<void> }> = [];
const savedEnv = { ...process.env };
/** What s.yaml deploys: http timeout 10 s, poller timeout 60 s, timer every minute. */
const timing = deployTimingOf(readFileSync(join(repoRoot, 's.yaml'), 'utf8'));
/** The smoke check's clock: its waits move it, nothing sleeps. */
const virtualClock = { nowMs: Date.parse('2026-01-05T10:00:00Z') };

beforeAll(async () => {
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [{ flowId: '620000000000001', flowName: 'smoke', status: 'PUBLISHED' }],
  });
});
afterAll(() => simulator.close());
afterEach(async () => {
  process.env = { ...savedEnv };
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  servers.push({
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A deployment on loopback: the built http bundle behind an HTTP trigger, and an FC 3.0 API
 * answering GetTrigger and InvokeFunction by running the built poller bundle. Each side answers
 * 429 to its first `throttle…` requests, as FC does at a function's reservedConcurrency.
 */
async function deployLocally(options: {
  throttleHttp?: number;
  throttleInvoke?: number;
  /** How those 429s come: FC's JSON error (the default) or a proxy's plain text. */
  throttleInvokeAs?: 'json' | 'text';
  /** The HTTP trigger's authType; `function` refuses requests without FC's signature (403). */
  triggerAuthType?: string;
  /** GetTrigger's triggerConfig as FC might send it; by default built from triggerAuthType. */
  triggerConfig?: string;
  /** While true, InvokeFunction of the poller answers 429: a timer run holds its one slot. */
  isPollerBusy?: () => boolean;
  pollerEnv?: Record<string, string>;
  /** Only the HTTP function's variables differ. */
  httpEnv?: Record<string, string>;
}) {
  const functionEnv: Record<string, string> = {
    CAMS_ENDPOINT: simulator.endpoint,
    WATCH_FLOWS: '620000000000001',
    STATE_URL: `file:${mkdtempSync(join(tmpdir(), 'cfw-smoke-'))}`,
    ALIBABA_CLOUD_ACCESS_KEY_ID: '',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    ...options.pollerEnv,
  };
  process.env = { ...savedEnv, ...functionEnv };
  // The functions' own JSON log lines; the smoke check's output is what is asserted.
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const httpFunction = new FcFunction({
    bundle: join(__dirname, '../../dist/http/index.js'),
    env: { ...functionEnv, ...options.httpEnv },
    log: () => undefined,
  });
  servers.push({ close: () => httpFunction.close() });
  const poller = loadBundle(join(__dirname, '../../dist/poller/index.js'), { fresh: true });
  const fcHttp = await serveFcHttp(httpFunction);
  servers.push(fcHttp);
  let httpThrottles = options.throttleHttp ?? 0;
  const trigger = await listen(
    createServer(async (request, response) => {
      if (options.triggerAuthType === 'function' && !request.headers.authorization) {
        response
          .writeHead(403, { 'content-type': 'application/json' })
          .end(
            '{"ErrorCode":"SignatureNotMatch","ErrorMessage":"required HTTP header Authorization was not specified"}',
          );
        return;
      }
      if (httpThrottles-- > 0) {
        response
          .writeHead(429, { 'content-type': 'application/json' })
          .end('{"ErrorCode":"ResourceThrottled"}');
        return;
      }
      const answer = await fetch(`${fcHttp.url}${request.url}`);
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' });
      response.end(await answer.text());
    }),
  );
  let invokeThrottles = options.throttleInvoke ?? 0;
  const invocations: string[] = [];
  const api = await listen(
    createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', async () => {
        const path = new URL(request.url ?? '/', 'http://fc').pathname;
        const json = { 'content-type': 'application/json', 'x-fc-request-id': '1-smoke' };
        if (request.method === 'GET' && path === '/2023-03-30/functions/cams-flow-watch-http/triggers/http') {
          response.writeHead(200, json).end(
            JSON.stringify({
              triggerName: 'http',
              triggerConfig:
                options.triggerConfig ??
                JSON.stringify({
                  authType: options.triggerAuthType ?? 'anonymous',
                  methods: ['GET', 'HEAD', 'POST'],
                }),
              httpTrigger: { urlInternet: `${trigger}/` },
            }),
          );
        } else if (
          request.method === 'POST' &&
          path === '/2023-03-30/functions/cams-flow-watch-http/invocations'
        ) {
          const invocation = await httpFunction.invoke(Buffer.concat(chunks));
          if (!invocation.ok) {
            response.writeHead(500, json).end(JSON.stringify({ Code: 'InvokeFailed' }));
            return;
          }
          response
            .writeHead(200, { ...json, 'content-type': 'application/octet-stream' })
            .end(JSON.stringify(invocation.value));
        } else if (
          request.method === 'POST' &&
          path === '/2023-03-30/functions/cams-flow-watch-poller/invocations'
        ) {
          if (invokeThrottles-- > 0 || options.isPollerBusy?.()) {
            if (options.throttleInvokeAs === 'text') {
              response.writeHead(429, { 'content-type': 'text/plain' }).end('Too Many Requests');
              return;
            }
            response.writeHead(429, json).end(
              JSON.stringify({
                Code: 'ResourceThrottled',
                Message: 'Reserved concurrency exceeded',
                RequestId: '1-smoke',
              }),
            );
            return;
          }
          const body = Buffer.concat(chunks);
          invocations.push(body.toString('utf8'));
          const result = await poller.handler(
            body,
            fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds: 10 }),
          );
          response
            .writeHead(200, { ...json, 'content-type': 'application/octet-stream' })
            .end(JSON.stringify(result));
        } else {
          response.writeHead(404, json).end(JSON.stringify({ Code: 'FunctionNotFound', Message: path }));
        }
      });
    }),
  );
  return { env: { ...credentialsEnv, DEPLOY_FC_ENDPOINT: api }, invocations };
}

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) } };
}

/**
 * What the check said on stderr, less its warning that this checkout has no git revision: the
 * suite also runs in an unpacked tarball, where that warning is right (tested on its own below).
 */
const complaints = (err: readonly string[]) =>
  err.filter((line) => !line.startsWith('version: no git revision in this checkout'));

function smoke(
  env: Record<string, string>,
  io: ReturnType<typeof captureIo>['io'],
  expectedVersion = builtVersion,
) {
  const waits: number[] = [];
  const result = runSmokeCli(env, io, {
    expectedVersion,
    timing,
    now: () => new Date(virtualClock.nowMs),
    sleep: async (ms) => {
      waits.push(ms);
      virtualClock.nowMs += ms;
    },
  });
  return { result, waits };
}

describe('smoke check (npm run smoke)', () => {
  it('reads the trigger URL from GetTrigger, checks /healthz through it and dry-runs the poller, retrying 429', async () => {
    const deployment = await deployLocally({ throttleHttp: 1, throttleInvoke: 2 });
    const { out, err, io } = captureIo();
    const camsCallsBefore = simulator.calls.length;

    const { result, waits } = smoke(deployment.env, io);

    expect(await result).toBe(0);
    expect(out).toEqual([
      expect.stringMatching(
        new RegExp(
          `^healthz: http://127\\.0\\.0\\.1:\\d+/healthz → 200, version ${builtVersion.replace(/[.+]/g, (char) => `\\${char}`)}, node v\\d+`,
        ),
      ),
      expect.stringMatching(/^poller dry run: configuration: ok/),
      expect.stringMatching(/^poller dry run: credentials: ok/),
      expect.stringMatching(/^poller dry run: stateStore: ok/),
      'poller dry run: cams: ok (GetFlow 620000000000001)',
      `poller dry run: version ${builtVersion}, node ${process.version}`,
    ]);
    expect(waits).toEqual([1000, 1000, 1000]);
    expect(complaints(err).filter((line) => !line.includes(': FC answered 429 ('))).toEqual([]);
    expect(JSON.parse(JSON.parse(deployment.invocations[0] ?? '{}').payload)).toEqual({
      source: 'smoke',
      dryRun: true,
    });
    expect(simulator.calls.length - camsCallsBefore).toBe(1);
    expect([...out, ...err].join('\n')).not.toContain(credentialsEnv.ALIBABA_CLOUD_ACCESS_KEY_SECRET);
  });

  it('fails when the deployment serves another version', async () => {
    const deployment = await deployLocally({});
    const { err, io } = captureIo();
    expect(await smoke(deployment.env, io, '9.9.9').result).toBe(1);
    expect(err.join('\n')).toMatch(/version .* is serving, expected 9\.9\.9/);
  });

  it('fails on older code of the same package version (the git commit differs)', async () => {
    const deployment = await deployLocally({});
    const { err, io } = captureIo();
    const expected = `${builtVersion.split('+')[0]}+0123456789ab`;
    expect(await smoke(deployment.env, io, expected).result).toBe(1);
    expect(err).toContain(`healthz: version ${builtVersion} is serving, expected ${expected}`);
    expect(err).toContain(`poller dry run: version ${builtVersion} is deployed, expected ${expected}`);
  });

  it('compares only the package version, and says so, where this checkout has no git revision', async () => {
    const deployment = await deployLocally({});
    const { err, io } = captureIo();
    const expected = `${builtVersion.split('+')[0]}+unknown`;
    expect(await smoke(deployment.env, io, expected).result).toBe(0);
    expect(err).toEqual([
      `version: no git revision in this checkout (${expected}): only the package version is compared, so older code of the same version would pass`,
    ]);
  });

  it('fails naming the check when the poller cannot reach its state store', async () => {
    const deployment = await deployLocally({
      pollerEnv: {
        STATE_URL: 'tablestore://cfw-smoke/flow_state',
        TABLESTORE_ENDPOINT: 'http://127.0.0.1:9',
      },
    });
    const { err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(1);
    expect(err.join('\n')).toMatch(/poller dry run: stateStore: FAILED .*Tablestore/);
  });

  it('fails naming the variable when the HTTP function is misconfigured, without its value', async () => {
    const deployment = await deployLocally({
      httpEnv: { STATE_URL: 'tablestore://instance-with-hunter2-in-it' },
    });
    const { out, err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(1);
    expect(err).toContain(
      "healthz: the HTTP function's configuration is invalid: STATE_URL — fix that variable (the function's log says why) and deploy again",
    );
    expect(out.some((line) => line.startsWith('healthz:'))).toBe(false);
    expect([...out, ...err].join('\n')).not.toContain('hunter2');
  });

  it('waits out a poller busy with timer runs for a timer period plus its timeout (from s.yaml)', async () => {
    expect(timing).toEqual({ httpTimeoutSeconds: 10, pollerTimeoutSeconds: 60, timerPeriodSeconds: 60 });
    // Runs lasting to 2 s before their deadline, tick after tick: the slot is free 2 s a minute,
    // and the smoke check starts just after a gap closed. Six doubling tries (31 s) missed it.
    const startedAt = virtualClock.nowMs;
    const freeFrom = startedAt + 116_000;
    const deployment = await deployLocally({
      isPollerBusy: () => virtualClock.nowMs < freeFrom || virtualClock.nowMs >= freeFrom + 2000,
    });
    const { out, err, io } = captureIo();
    const { result, waits } = smoke(deployment.env, io);
    expect(await result).toBe(0);
    expect(out).toContain('poller dry run: cams: ok (GetFlow 620000000000001)');
    expect(deployment.invocations).toHaveLength(1);
    expect(Math.max(...waits)).toBe(1000);
    expect(err.filter((line) => line.startsWith('poller dry run: FC answered 429')).length).toBeLessThan(10);
  });

  it("retries a 429 that is not FC's JSON error (a proxy's plain text) like FC's own", async () => {
    const deployment = await deployLocally({ throttleInvoke: 2, throttleInvokeAs: 'text' });
    const { out, err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(0);
    expect(out).toContain('poller dry run: cams: ok (GetFlow 620000000000001)');
    expect(deployment.invocations).toHaveLength(1);
    expect(err.filter((line) => line.startsWith('poller dry run: FC answered 429'))).toHaveLength(2);
  });

  it('gives up when FC keeps answering 429, saying why', async () => {
    const deployment = await deployLocally({ throttleHttp: 10_000, isPollerBusy: () => true });
    const { err, io } = captureIo();
    const startedAt = virtualClock.nowMs;
    const { result, waits } = smoke(deployment.env, io);
    expect(await result).toBe(1);
    expect(virtualClock.nowMs - startedAt).toBe(30_000 + 120_000);
    expect(waits.reduce((total, wait) => total + wait, 0)).toBe(150_000);
    const errors = err.join('\n');
    expect(errors).toMatch(
      /healthz: the HTTP function is at its concurrency cap \(HTTP_MAX_INSTANCES\): FC answered 429 for 30 s/,
    );
    expect(errors).toMatch(
      /poller dry run: poller busy with a timer run: FC answered 429 for 120 s \(timer period 60 s \+ timeout 60 s, s\.yaml\)/,
    );
    expect(errors).toMatch(/ResourceThrottled \(HTTP 429\)/);
  });

  it('checks /healthz through InvokeFunction behind a trigger with authType function', async () => {
    const deployment = await deployLocally({ triggerAuthType: 'function', httpEnv: { HTTP_AUTH: 'none' } });
    const { out, err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(0);
    expect(complaints(err)).toEqual([]);
    expect(out[0]).toMatch(
      /^healthz: InvokeFunction cams-flow-watch-http \(trigger authType function: FC refuses unsigned requests\) → 200, version /,
    );
  });

  it.each([
    ['says no authType', '{"methods":["GET","HEAD","POST"]}'],
    ['cannot be read', 'not json'],
  ])("takes a trigger whose config %s as FC's default authType, function", async (_, triggerConfig) => {
    const deployment = await deployLocally({
      triggerAuthType: 'function',
      triggerConfig,
      httpEnv: { HTTP_AUTH: 'none' },
    });
    const { out, err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(0);
    expect(complaints(err)).toEqual([]);
    expect(out[0]).toMatch(/^healthz: InvokeFunction cams-flow-watch-http \(trigger authType function/);
  });

  it('says what to fix when the trigger refuses the unsigned request', async () => {
    const deployment = await deployLocally({ triggerAuthType: 'function' });
    const { err, io } = captureIo();
    // A custom domain in front of a trigger that wants FC's signature.
    const trigger = await fetch(
      `${deployment.env.DEPLOY_FC_ENDPOINT}/2023-03-30/functions/cams-flow-watch-http/triggers/http`,
    );
    const url = ((await trigger.json()) as { httpTrigger: { urlInternet: string } }).httpTrigger.urlInternet;
    expect(await smoke({ ...deployment.env, DEPLOY_HTTP_URL: url }, io).result).toBe(1);
    expect(err.join('\n')).toMatch(
      /healthz: http:\/\/127\.0\.0\.1:\d+\/healthz answered HTTP 403: DEPLOY_HTTP_URL refused an unsigned request .*unset DEPLOY_HTTP_URL/,
    );
  });

  it('refuses a jwt trigger, naming the variable to change', async () => {
    const deployment = await deployLocally({ triggerAuthType: 'jwt' });
    const { err, io } = captureIo();
    expect(await smoke(deployment.env, io).result).toBe(1);
    expect(err.join('\n')).toMatch(
      /healthz: the HTTP trigger's authType is jwt, .*set HTTP_TRIGGER_AUTH_TYPE to anonymous or function and deploy again/,
    );
  });

  it('exits 2 without credentials', async () => {
    const { err, io } = captureIo();
    expect(await smoke({ DEPLOY_FC_ENDPOINT: 'http://127.0.0.1:9' }, io).result).toBe(2);
    expect(err.join('\n')).toMatch(/ALIBABA_CLOUD_ACCESS_KEY_ID/);
  });
});

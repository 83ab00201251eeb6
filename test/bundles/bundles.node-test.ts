// The built bundles on the Node that runs this file: `.ci/run` runs it under Node 20.10.0 (the
// oldest Node 20 FC may give the functions), `bundles.test.ts` under the Node of `npm test`.
// node:test, not vitest: vitest 4 itself needs Node 20.19+, the bundles must not.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { FcFunction, fcContext, fcTimerEvent, loadBundle, serveFcHttp } from '../../local/fc-emulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { buildVersion } from '../../scripts/build-version.mjs';

/** What scripts/build.mjs baked into the bundles: package version + git commit. */
const builtVersion = buildVersion(join(__dirname, '../..'));

const DIST = join(__dirname, '../../dist');
/** Self-signed for 127.0.0.1, loopback tests only (test/fixtures/README.md). */
const TLS_CERT = join(__dirname, '../fixtures/loopback-tls.crt');
const TLS_KEY = join(__dirname, '../fixtures/loopback-tls.key');
const FLOW_ID = '630000000000001';
const TOKEN = 'bundle-test-token';
const secret = 'whsec_YnVuZGxlLXRlc3Qtc2lnbmluZy1zZWNyZXQ=';
let simulator: CamsSimulator;
let receiver: WebhookReceiver;
const savedEnv = { ...process.env };
const quiet = console.log;

before(async () => {
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [{ flowId: FLOW_ID, flowName: 'bundle', status: 'DRAFT' }],
  });
  receiver = await startWebhookReceiver({ secret });
  // The functions' JSON log lines would drown the report; assertions look at answers instead.
  console.log = () => undefined;
});
after(async () => {
  console.log = quiet;
  process.env = savedEnv;
  await receiver.close();
  await simulator.close();
});

function functionEnv(env: Record<string, string>): Record<string, string> {
  return {
    CAMS_ENDPOINT: simulator.endpoint,
    HTTP_API_TOKENS: TOKEN,
    WATCH_FLOWS: FLOW_ID,
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: secret,
    STATE_URL: `file:${mkdtempSync(join(tmpdir(), 'cfw-bundle-'))}`,
    ALIBABA_CLOUD_ACCESS_KEY_ID: '',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    ...env,
  };
}

function coldStart(name: 'poller', env: Record<string, string>) {
  process.env = { ...savedEnv, ...functionEnv(env) };
  return loadBundle(join(DIST, name, 'index.js'), { fresh: true }).handler;
}

/** The HTTP bundle on an FC instance (a worker thread with only its variables) behind a trigger. */
async function httpTrigger(
  options: { credentials?: typeof SIMULATOR_CREDENTIALS; env?: Record<string, string> } = {},
) {
  const fn = new FcFunction({
    bundle: join(DIST, 'http', 'index.js'),
    env: functionEnv(options.env ?? {}),
    credentials: options.credentials,
    log: () => undefined,
  });
  const trigger = await serveFcHttp(fn);
  return {
    url: trigger.url,
    async close() {
      await trigger.close();
      await fn.close();
    },
  };
}

/**
 * One timer invocation of the poller bundle in a Node process of its own (timer-invocation.ts),
 * started with `processEnv` on top of the function's variables: for what Node reads only at
 * startup, such as NODE_EXTRA_CA_CERTS. Asynchronous, so the loopback servers of this process
 * keep answering meanwhile.
 */
function pollerInOwnNode(env: Record<string, string>, processEnv: Record<string, string> = {}) {
  const child = execFile(process.execPath, ['--import', 'tsx', join(__dirname, 'timer-invocation.ts')], {
    env: { ...savedEnv, NODE_EXTRA_CA_CERTS: '', ...functionEnv(env), ...processEnv },
    timeout: 60_000,
  });
  child.stdin?.end(
    JSON.stringify({
      bundle: join(DIST, 'poller', 'index.js'),
      credentials: SIMULATOR_CREDENTIALS,
      timeoutSeconds: 10,
    }),
  );
  return new Promise<{ exitCode: number | null; result: unknown; log: string }>((resolve, reject) => {
    let stdout = '';
    let log = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      log += chunk;
    });
    child.on('error', reject);
    child.on('close', (exitCode) => {
      let result: unknown;
      try {
        result = JSON.parse(stdout);
      } catch {
        result = stdout;
      }
      resolve({ exitCode, result, log });
    });
  });
}

const pollerContext = (timeoutSeconds = 10) =>
  fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds });

describe(`built bundles on Node ${process.version}`, () => {
  it('http: /healthz reports the package version and this Node, through an HTTP trigger', async () => {
    const trigger = await httpTrigger();
    try {
      const answer = await fetch(`${trigger.url}/healthz`);
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), {
        ok: true,
        config: 'ok',
        version: builtVersion,
        node: process.version,
      });
    } finally {
      await trigger.close();
    }
  });

  for (const simd of ['on', 'off'] as const) {
    it(`http: serves a flow from CAMS GetFlow (signed request over undici, WebAssembly SIMD ${simd})`, async () => {
      // Without SIMD undici's parser comes from llhttp-wasm.js, the file beside undici.js.
      const env = simd === 'off' ? { UNDICI_NO_WASM_SIMD: '1' } : {};
      await servesAFlow(await httpTrigger({ credentials: SIMULATOR_CREDENTIALS, env }));
    });
  }

  async function servesAFlow(trigger: Awaited<ReturnType<typeof httpTrigger>>) {
    try {
      const answer = await fetch(`${trigger.url}/flows/${FLOW_ID}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { flowId?: string }).flowId, FLOW_ID);
      const denied = await fetch(`${trigger.url}/flows/${FLOW_ID}`);
      assert.equal(denied.status, 401);
    } finally {
      await trigger.close();
    }
  }

  it('poller: announces a status change to a webhook that verifies its signature', async () => {
    // One-second runs that re-check a flow due again within them, so the second run sees the change.
    const handler = coldStart('poller', {
      POLL_INTERVALS: 'DRAFT=0.3,PUBLISHED=0.3',
      POLL_QPS: '50',
      CAMS_ACCOUNT_QPS: '51',
    });
    const shortRun = () => pollerContext(1);
    assert.deepEqual(
      { changes: 0, failed: 0 },
      pick(await handler(fcTimerEvent(), shortRun()), ['changes', 'failed']),
    );
    simulator.setStatus(FLOW_ID, 'PUBLISHED');
    const delivered = receiver.received.length;
    try {
      const summary = await handler(fcTimerEvent(), shortRun());
      assert.deepEqual(pick(summary, ['changes', 'delivered', 'failed']), {
        changes: 1,
        delivered: 1,
        failed: 0,
      });
      const [delivery] = receiver.received.slice(delivered);
      assert.equal(delivery?.verified, true);
      assert.equal(delivery?.type, 'flow.status_changed');
    } finally {
      simulator.setStatus(FLOW_ID, 'DRAFT');
    }
  });

  it('poller: keeps state in Tablestore through our own client, no SDK beside the bundle', async () => {
    const tablestore = await startTablestoreServer({
      instance: 'cfw-bundle',
      credentials: [SIMULATOR_CREDENTIALS],
    });
    try {
      const handler = coldStart('poller', {
        STATE_URL: 'tablestore://cfw-bundle/flow_state',
        TABLESTORE_ENDPOINT: tablestore.endpoint,
      });
      assert.deepEqual(pick(await handler(fcTimerEvent(), pollerContext()), ['flowsChecked', 'failed']), {
        flowsChecked: 1,
        failed: 0,
      });
      assert.deepEqual(
        tablestore.rows('flow_state').map((row) => row.primaryKey),
        [`flow/-/${FLOW_ID}`],
      );
      // The official SDK (a devDependency) would be bundled into a file beside index.js; only
      // undici, loaded on the first CAMS call or webhook delivery, and its parser's fallback are.
      for (const name of ['http', 'poller']) {
        assert.deepEqual(readdirSync(join(DIST, name)).sort(), ['index.js', 'llhttp-wasm.js', 'undici.js']);
      }
    } finally {
      await tablestore.close();
    }
  });

  it('poller: keeps state in Tablestore over https, trusting the endpoint only through Node', async () => {
    // Both Tablestore endpoints (public and VPC) are https: the client's https path, loaded by the
    // bundle as built, must carry every call. The child Node trusts the test certificate through
    // NODE_EXTRA_CA_CERTS, as Node trusts the service's through its own CA list: no code of ours
    // takes a CA.
    const tablestore = await startTablestoreServer({
      instance: 'cfw-bundle',
      credentials: [SIMULATOR_CREDENTIALS],
      tls: { key: readFileSync(TLS_KEY), cert: readFileSync(TLS_CERT) },
    });
    const env = { STATE_URL: 'tablestore://cfw-bundle/flow_state', TABLESTORE_ENDPOINT: tablestore.endpoint };
    try {
      assert.match(tablestore.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
      const trusted = await pollerInOwnNode(env, { NODE_EXTRA_CA_CERTS: TLS_CERT });
      assert.equal(trusted.exitCode, 0, trusted.log);
      assert.deepEqual(
        pick(trusted.result, ['flowsChecked', 'failed']),
        { flowsChecked: 1, failed: 0 },
        trusted.log,
      );
      assert.deepEqual(
        tablestore.rows('flow_state').map((row) => row.primaryKey),
        [`flow/-/${FLOW_ID}`],
      );
      assert.ok(tablestore.calls.some((call) => call.operation === 'UpdateRow' && call.code === 'OK'));

      // Without the test CA the same run meets a certificate Node does not trust: a store error
      // the operator can act on, as the run's answer and in its log, never a crash or a secret.
      const before = tablestore.calls.length;
      const untrusted = await pollerInOwnNode(env);
      assert.equal(untrusted.exitCode, 0, untrusted.log);
      const { error } = untrusted.result as { error?: { code: string; message: string } };
      assert.equal(error?.code, 'TlsCertificateUntrusted', JSON.stringify(untrusted.result));
      assert.match(error.message, /certificate/);
      assert.match(error.message, /TABLESTORE_ENDPOINT/);
      assert.match(untrusted.log, /"msg":"poller run failed".*"code":"TlsCertificateUntrusted"/);
      for (const credential of [SIMULATOR_CREDENTIALS.accessKeySecret, SIMULATOR_CREDENTIALS.securityToken]) {
        if (!credential) continue;
        assert.ok(!JSON.stringify(untrusted.result).includes(credential));
        assert.ok(!untrusted.log.includes(credential));
      }
      // No request got through the handshake.
      assert.equal(tablestore.calls.length, before);
    } finally {
      await tablestore.close();
    }
  });

  it('poller: a dry run passes every check and writes nothing', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'cfw-bundle-dry-'));
    const handler = coldStart('poller', { STATE_URL: `file:${stateDir}` });
    const report = (await handler(fcTimerEvent({ payload: '{"dryRun":true}' }), pollerContext())) as {
      ok: boolean;
      node: string;
      checks: Array<{ ok: boolean }>;
    };
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.node, process.version);
    assert.equal(report.checks.length, 4);
    // No record: only the budget counter of its one CAMS call.
    assert.deepEqual(readdirSync(stateDir), ['counters']);
  });
});

function pick(value: unknown, keys: readonly string[]): Record<string, unknown> {
  const record = value as Record<string, unknown>;
  return Object.fromEntries(keys.map((key) => [key, record[key]]));
}

// The built bundles on the Node that runs this file: `.ci/run` runs it under Node 20.10.0 (the
// oldest Node 20 FC may give the functions), `bundles.test.ts` under the Node of `npm test`.
// node:test, not vitest: vitest 4 itself needs Node 20.19+, the bundles must not.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { FcFunction, fcContext, fcTimerEvent, loadBundle, serveFcHttp } from '../../local/fc-emulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import packageJson from '../../package.json';

const DIST = join(__dirname, '../../dist');
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
        version: packageJson.version,
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
    const handler = coldStart('poller', { POLL_INTERVALS: 'DRAFT=0.3,PUBLISHED=0.3', POLL_QPS: '50' });
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

import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { fcContext, fcTimerEvent } from '../../local/fc-emulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { buildVersion } from '../../scripts/build-version.mjs';
import { pollerInstance } from './bundle-harness';

/** What scripts/build.mjs baked into the bundles: package version + git commit. */
const builtVersion = buildVersion(join(__dirname, '../..'));

const secret = 'whsec_ZHJ5LXJ1bi10ZXN0LXNlY3JldC1ieXRlcw==';
const DRY_RUN = JSON.stringify({ source: 'smoke', dryRun: true });
let simulator: CamsSimulator;
let receiver: WebhookReceiver;

beforeAll(async () => {
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [{ flowId: '610000000000001', flowName: 'one', status: 'PUBLISHED' }],
  });
  receiver = await startWebhookReceiver({ secret });
});
afterAll(async () => {
  await receiver.close();
  await simulator.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

function coldStart(env: Record<string, string>) {
  const stateDir = mkdtempSync(join(tmpdir(), 'cfw-dry-run-'));
  const instance = pollerInstance({
    CAMS_ENDPOINT: simulator.endpoint,
    WATCH_FLOWS: '610000000000001',
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: secret,
    STATE_URL: `file:${stateDir}`,
    ...env,
  });
  return { ...instance, stateDir };
}

const context = (credentials = SIMULATOR_CREDENTIALS) => fcContext({ credentials, timeoutSeconds: 10 });

describe('poller dry run (built bundle)', () => {
  it('checks configuration, credentials, the state store and one CAMS call, and changes nothing', async () => {
    const { handler, lines, stateDir } = coldStart({});
    const camsCallsBefore = simulator.calls.length;

    const report = await handler(fcTimerEvent({ payload: DRY_RUN }), context());

    expect(report).toEqual({
      dryRun: true,
      ok: true,
      version: builtVersion,
      node: process.version,
      checks: [
        expect.objectContaining({ name: 'configuration', ok: true }),
        expect.objectContaining({ name: 'credentials', ok: true }),
        expect.objectContaining({ name: 'stateStore', ok: true }),
        { name: 'cams', ok: true, detail: 'GetFlow 610000000000001' },
      ],
    });
    expect(simulator.calls.length - camsCallsBefore).toBe(1);
    expect(receiver.received).toEqual([]);
    // No record written; only the account budget's counter for its one CAMS call (it takes a slot
    // like any other call, so a dry run never overruns the account's 5 calls/s).
    expect(readdirSync(stateDir)).toEqual(['counters']);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged[0]).toEqual({
      level: 'info',
      msg: 'cold start',
      version: builtVersion,
      node: process.version,
    });
    expect(logged.filter((entry) => entry.msg === 'poller run')).toEqual([]);
  });

  it('accepts the dry-run request as the whole event, as `npm run invoke -- poller` may send it', async () => {
    const { handler } = coldStart({});
    expect(await handler(Buffer.from(DRY_RUN), context())).toMatchObject({ dryRun: true, ok: true });
  });

  it('reports the failing check with its code instead of throwing, and never leaks a secret', async () => {
    const { handler, lines } = coldStart({});
    const wrongKey = { ...SIMULATOR_CREDENTIALS, accessKeySecret: 'not-the-secret-at-all' };

    const report = await handler(fcTimerEvent({ payload: DRY_RUN }), context(wrongKey));

    expect(report).toMatchObject({ dryRun: true, ok: false });
    const cams = (report as { checks: Array<{ name: string; ok: boolean; code?: string }> }).checks.at(-1);
    expect(cams).toMatchObject({ name: 'cams', ok: false, code: expect.any(String) });
    const output = JSON.stringify(report) + lines.join('\n');
    expect(output).not.toContain('not-the-secret-at-all');
    expect(output).not.toContain(secret);
  });

  it.each([
    ['POLL_QPS', { POLL_QPS: 'lots' }],
    // The pair the HTTP function refuses (the default POLL_QPS is 4).
    ['POLL_QPS', { CAMS_ACCOUNT_QPS: '4' }],
    ['STATE_URL', { STATE_URL: 'redis://:hunter2@state.example:6379' }],
    ['STATE_URL', { STATE_URL: 'tablestore://x/flow_state' }],
    ['TABLESTORE_ENDPOINT', { STATE_URL: 'tablestore://cfw-dry/flow_state', TABLESTORE_ENDPOINT: '' }],
    [
      'TABLESTORE_ENDPOINT',
      { STATE_URL: 'tablestore://cfw-dry/flow_state', TABLESTORE_ENDPOINT: 'ots.example' },
    ],
  ])(
    'stops at a configuration error, naming the variable (%s; a malformed state location included)',
    async (variable, env) => {
      const { handler, logs } = coldStart(env);
      const report = await handler(fcTimerEvent({ payload: DRY_RUN }), context());
      expect(report).toMatchObject({
        ok: false,
        checks: [
          {
            name: 'configuration',
            ok: false,
            code: 'InvalidConfiguration',
            message: expect.stringMatching(new RegExp(`^${variable} `)),
          },
        ],
      });
      expect(JSON.stringify(report) + JSON.stringify(logs())).not.toContain('hunter2');
    },
  );

  it('holds its CAMS call to the budget’s local limit when the state store cannot be used', async () => {
    // A well-formed location no store can live at: a directory under a file.
    const { handler, logs } = coldStart({ STATE_URL: 'file:/dev/null/state' });
    const report = await handler(fcTimerEvent({ payload: DRY_RUN }), context());
    expect(report).toMatchObject({
      ok: false,
      checks: expect.arrayContaining([
        expect.objectContaining({ name: 'stateStore', ok: false }),
        expect.objectContaining({ name: 'cams', ok: true }),
      ]),
    });
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(
          /shared CAMS budget: this instance limits itself to 4 calls\/s \(its share/,
        ),
      }),
    );
  });

  it('names the network fix when the Tablestore instance ACL refuses the function', async () => {
    const tablestore = await startTablestoreServer({
      instance: 'cfw-dry',
      credentials: [SIMULATOR_CREDENTIALS],
      deniedByAcl: true,
    });
    try {
      const { handler } = coldStart({
        STATE_URL: 'tablestore://cfw-dry/flow_state',
        TABLESTORE_ENDPOINT: tablestore.endpoint,
      });
      const report = await handler(fcTimerEvent({ payload: DRY_RUN }), context());
      expect(report).toMatchObject({
        ok: false,
        checks: expect.arrayContaining([
          expect.objectContaining({ name: 'stateStore', ok: false, code: 'InstanceAclDenied' }),
          expect.objectContaining({ name: 'cams', ok: true }),
        ]),
      });
    } finally {
      await tablestore.close();
    }
  });
});

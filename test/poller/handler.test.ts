import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { fcContext, fcTimerEvent } from '../../local/fc-emulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { pollerInstance } from './bundle-harness';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
let simulator: CamsSimulator;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // Every test is a cold start within the same second; the budget is covered by guarantees.test.ts.
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [
      { flowId: '600000000000001', flowName: 'one', status: 'PUBLISHED' },
      { flowId: '600000000000002', flowName: 'two', status: 'DRAFT' },
    ],
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

/** A cold start of the built bundle with this environment, its log lines captured. */
function coldStart(env: Record<string, string>) {
  return pollerInstance({
    CAMS_ENDPOINT: simulator.endpoint,
    WATCH_FLOWS: '600000000000001,600000000000002',
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: secret,
    STATE_URL: `file:${mkdtempSync(join(tmpdir(), 'cfw-poller-fn-'))}`,
    ...env,
  });
}

const context = () => fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds: 10 });

describe('poller function (built bundle)', () => {
  it('runs on a timer event and returns and logs the summary as one JSON line', async () => {
    const { handler, lines } = coldStart({});
    const summary = await handler(fcTimerEvent({ payload: '{"note":"tick"}' }), context());
    expect(summary).toMatchObject({ flowsChecked: 2, changes: 0, failed: 0, camsCalls: 2, throttled: 0 });
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.filter((entry) => entry.msg === 'poller run')).toEqual([
      expect.objectContaining({ level: 'info', flowsChecked: 2, durationMs: expect.any(Number) }),
    ]);
  });

  it.each([
    ['an empty buffer', Buffer.alloc(0)],
    ['a non-JSON buffer', Buffer.from('\u0000not json')],
    ['a JSON array', Buffer.from('[1,2]')],
    ['a plain-text payload', fcTimerEvent({ payload: 'hello' })],
    ['undefined', undefined],
  ])('never throws for %s', async (_name, event) => {
    const { handler } = coldStart({});
    await expect(handler(event as Buffer, context())).resolves.toMatchObject({ failed: 0 });
  });

  it.each([
    ['a string', 'abc'],
    ['an object', { s: 60 }],
    ['NaN', Number.NaN],
    ['negative', -5],
  ])('runs under the default timeout when context.function.timeout is %s', async (_, timeout) => {
    const { handler } = coldStart({});
    const summary = await handler(
      fcTimerEvent(),
      fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds: timeout as number }),
    );
    expect(summary).toMatchObject({ flowsChecked: 2, failed: 0, camsCalls: 2 });
  });

  it('answers a configuration error without throwing, naming the variable', async () => {
    const { handler, lines } = coldStart({ POLL_QPS: 'lots' });
    const result = await handler(fcTimerEvent(), context());
    expect(result).toMatchObject({ error: { code: 'InvalidConfiguration' } });
    expect(JSON.stringify(result)).toContain('POLL_QPS');
    expect(lines.some((line) => line.includes('"level":"error"'))).toBe(true);
  });

  it.each([
    // Lowering the account alone leaves the default POLL_QPS (4) at or above it.
    [{ CAMS_ACCOUNT_QPS: '4' }, 'POLL_QPS (4) must be below CAMS_ACCOUNT_QPS (4)'],
    [{ POLL_QPS: '50', CAMS_ACCOUNT_QPS: '5' }, 'POLL_QPS (50) must be below CAMS_ACCOUNT_QPS (5)'],
  ])(
    'refuses %o as the HTTP function does: logged each run, no CAMS call, no throw',
    async (env, problem) => {
      const { handler, logs } = coldStart(env);
      const callsBefore = simulator.calls.length;
      for (let run = 1; run <= 2; run += 1) {
        const result = await handler(fcTimerEvent(), context());
        expect(result).toEqual({
          error: { code: 'InvalidConfiguration', message: expect.stringContaining(problem) },
        });
        const errors = logs().filter((entry) => entry.level === 'error');
        expect(errors).toHaveLength(run);
        expect(errors.at(-1)).toMatchObject({
          msg: 'poller configuration error',
          code: 'InvalidConfiguration',
          variable: 'POLL_QPS',
          error: expect.stringMatching(/set POLL_QPS=\d+ \(or lower\) with CAMS_ACCOUNT_QPS=\d+$/),
        });
      }
      expect(simulator.calls.length).toBe(callsBefore);
    },
  );

  it.each([
    ['STATE_URL', { STATE_URL: 'postgres://state:hunter2@db.example/state' }],
    ['STATE_URL', { STATE_URL: 'file:' }],
    ['STATE_URL', { STATE_URL: 'tablestore://x/flow_state' }],
    ['TABLESTORE_ENDPOINT', { STATE_URL: 'tablestore://cfw-fn/flow_state', TABLESTORE_ENDPOINT: '' }],
    [
      'TABLESTORE_ENDPOINT',
      { STATE_URL: 'tablestore://cfw-fn/flow_state', TABLESTORE_ENDPOINT: 'https://hunter2@ots/path' },
    ],
  ])(
    'answers a malformed state location as a configuration error naming %s, logged once each run',
    async (variable, env) => {
      const { handler, logs } = coldStart(env);
      const callsBefore = simulator.calls.length;
      for (let run = 1; run <= 2; run += 1) {
        const result = await handler(fcTimerEvent(), context());
        expect(result).toEqual({
          error: {
            code: 'InvalidConfiguration',
            message: expect.stringMatching(new RegExp(`^${variable} `)),
          },
        });
        expect(JSON.stringify(result)).not.toContain('hunter2');
        const errors = logs().filter((entry) => entry.level === 'error');
        expect(errors).toHaveLength(run);
        expect(errors.at(-1)).toMatchObject({
          msg: 'poller configuration error',
          code: 'InvalidConfiguration',
          variable,
        });
      }
      expect(JSON.stringify(logs())).not.toContain('hunter2');
      expect(simulator.calls.length).toBe(callsBefore);
    },
  );

  it('tells the operator about missing credentials and leaks no secret', async () => {
    const { handler, lines } = coldStart({});
    const result = await handler(fcTimerEvent(), fcContext({ timeoutSeconds: 10 }));
    expect(result).toMatchObject({ error: { code: 'MissingCredentials' } });
    const output = lines.join('\n') + JSON.stringify(result);
    expect(output).not.toContain(secret);
    expect(output).not.toContain(SIMULATOR_CREDENTIALS.accessKeySecret);
  });

  it('keeps its state in Tablestore through our own Tablestore client, with the role credentials of each invocation', async () => {
    const tablestore = await startTablestoreServer({
      instance: 'cfw-fn',
      credentials: [SIMULATOR_CREDENTIALS],
    });
    try {
      const { handler } = coldStart({
        STATE_URL: 'tablestore://cfw-fn/flow_state',
        TABLESTORE_ENDPOINT: tablestore.endpoint,
        // Short runs that come back for flows due again within them, so two runs see a change.
        // (the limiter would otherwise rightly hold the second run's calls past its deadline).
        POLL_INTERVALS: 'PUBLISHED=0.3,DRAFT=0.3',
        POLL_QPS: '50',
        CAMS_ACCOUNT_QPS: '51',
      });
      // A run starts checks until half a second before its deadline; a 1 s run left a cold
      // instance on a busy machine half a second to open Tablestore and start both checks.
      const shortRun = () => fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds: 3 });
      expect(await handler(fcTimerEvent(), shortRun())).toMatchObject({ changes: 0, failed: 0 });
      expect(tablestore.rows('flow_state').map((row) => row.primaryKey)).toEqual([
        'flow/-/600000000000001',
        'flow/-/600000000000002',
      ]);
      simulator.setStatus('600000000000002', 'PUBLISHED');
      const delivered = receiver.received.length;
      expect(await handler(fcTimerEvent(), shortRun())).toMatchObject({
        changes: 1,
        delivered: 1,
        pending: 0,
      });
      expect(receiver.received.slice(delivered)).toEqual([
        expect.objectContaining({ type: 'flow.status_changed', verified: true }),
      ]);
      simulator.setStatus('600000000000002', 'DRAFT');
    } finally {
      await tablestore.close();
    }
  });

  it('reports an unreachable Tablestore as a failed run naming the fix, without throwing', async () => {
    const { handler, lines } = coldStart({
      STATE_URL: 'tablestore://cfw-fn/flow_state',
      TABLESTORE_ENDPOINT: 'http://127.0.0.1:9',
    });
    const result = await handler(fcTimerEvent(), context());
    expect(result).toMatchObject({ error: { code: 'NetworkingError' } });
    expect(JSON.stringify(result)).toMatch(/Tablestore .* failed/);
    expect(lines.join('\n')).not.toContain(SIMULATOR_CREDENTIALS.accessKeySecret);
  });
});

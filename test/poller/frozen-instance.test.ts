import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { FcFunction, fcTimerEvent } from '../../local/fc-emulator';
import { startWebhookReceiver } from '../../local/webhook-receiver';
import { POLLER_BUNDLE } from './bundle-harness';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FLOW_ID = '840000000000001';
/** A run stops waiting for what comes due well before its 4 s timeout: each run checks the flow once. */
const RUN_TIMEOUT_S = 4;
const INTERVAL_S = 4;

describe('the poller on an instance FC froze between timer runs', () => {
  // FC freezes the poller's instance for the minute between runs, longer than CAMS or a receiver
  // keeps an idle connection: they close it (a FIN the frozen instance cannot read). Here the
  // instance sits frozen one interval between runs, and the servers close its connections while
  // it does.
  it('calls CAMS and delivers its webhook in one attempt each on connections the servers closed while it was frozen', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const simulator = await startCamsSimulator({
      flows: [{ flowId: FLOW_ID, flowName: 'frozen_poller', status: 'PUBLISHED' }],
    });
    cleanups.push(() => simulator.close());
    const receiver = await startWebhookReceiver({ secret });
    cleanups.push(() => receiver.close());
    const lines: string[] = [];
    const fn = new FcFunction({
      bundle: POLLER_BUNDLE,
      functionName: 'cams-flow-watch-poller',
      maxInstances: 1,
      timeoutSeconds: RUN_TIMEOUT_S,
      credentials: SIMULATOR_CREDENTIALS,
      log: (line) => lines.push(line),
      env: {
        CAMS_ENDPOINT: simulator.endpoint,
        WATCH_FLOWS: FLOW_ID,
        POLL_INTERVALS: `PUBLISHED=${INTERVAL_S},DEPRECATED=${INTERVAL_S}`,
        WEBHOOK_URL: receiver.url,
        WEBHOOK_SECRET: secret,
        STATE_URL: `file:${mkdtempSync(join(tmpdir(), 'cfw-frozen-poller-'))}`,
      },
    });
    cleanups.push(() => fn.close());
    const run = async () => {
      // Past the flow's interval, so it is due again.
      if (fn.stats().requests > 0) await sleep(INTERVAL_S * 1000 + 500);
      const invocation = await fn.invoke(fcTimerEvent());
      if (!invocation.ok) throw new Error(`FC answered ${invocation.error.statusCode}`);
      return invocation.value;
    };

    const connectionsOpened = () => [simulator.connections.opened, receiver.connections.opened];

    await run();
    simulator.setStatus(FLOW_ID, 'DEPRECATED');
    const beforeFreeze = await run();
    const openedBeforeFreeze = connectionsOpened();
    await simulator.connections.closeIdle();
    await receiver.connections.closeIdle();
    simulator.setStatus(FLOW_ID, 'PUBLISHED');
    const afterFreeze = await run();

    expect(beforeFreeze).toMatchObject({ changes: 1, delivered: 1, camsCalls: 1, failed: 0 });
    expect(afterFreeze).toMatchObject({ changes: 1, delivered: 1, pending: 0, camsCalls: 1, failed: 0 });
    expect(simulator.calls.map((call) => call.code)).toEqual(['OK', 'OK', 'OK']);
    expect(receiver.received.map((delivery) => delivery.verified)).toEqual([true, true]);
    expect(connectionsOpened()).toEqual(openedBeforeFreeze.map((opened) => opened + 1));
    expect(fn.stats()).toMatchObject({ instancesStarted: 1 });
    expect(lines.filter((line) => !line.includes('"level":"info"'))).toEqual([]);
  });
});

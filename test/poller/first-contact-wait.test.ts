/**
 * A pass owed only to endpoint E must not wait for another pass that claimed first contact with E
 * but attempts another endpoint F first: F may hang for the publisher's whole timeout (15 s), and
 * E's events would go out that much later, or not at all in a short run.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStateStore } from '../../bench/memory-store';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver } from '../../local/webhook-receiver';
import { createCamsClient } from '../../shared/cams';
import { type FlowRecord, type LogEntry, parsePollerConfig, runPoller } from '../../shared/poller';

import { createWebhookPublisher, parseWebhookEndpoints } from '../../shared/webhook';
import { CountingAgent } from '../support/counting-agent';
import { VirtualClock } from '../support/virtual-clock';

const FLOW_A = '970000000000001';
const FLOW_B = '970000000000002';
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function world() {
  const agent = new CountingAgent();
  const webhookAgent = new CountingAgent();
  const clock = new VirtualClock(Date.now(), {
    isBusy: () => agent.inFlight > 0 || webhookAgent.inFlight > 0,
  });
  const simulator = await startCamsSimulator({
    flows: [
      { flowId: FLOW_A, flowName: 'a', status: 'PUBLISHED' },
      { flowId: FLOW_B, flowName: 'b', status: 'PUBLISHED' },
    ],
    clock,
    rateLimit: 5,
  });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const slowF = await startWebhookReceiver({ secret });
  const healthyE = await startWebhookReceiver({ secret });
  closers.push(
    () => slowF.close(),
    () => healthyE.close(),
    () => simulator.close(),
    () => agent.close(),
    () => webhookAgent.close(),
  );
  // In memory: the file store's I/O would let the virtual clock jump past attempts.
  const store = new MemoryStateStore();
  const endpoints = parseWebhookEndpoints({
    WEBHOOK_URL: `${slowF.url},${healthyE.url}`,
    WEBHOOK_SECRET: secret,
  });
  const [F, E] = endpoints.map((endpoint) => endpoint.id) as [string, string];
  const publisher = createWebhookPublisher({
    clock: { now: () => Date.now(), sleep: (ms, signal) => clock.sleep(ms, signal) },
    dispatcher: webhookAgent,
  });
  const cams = createCamsClient({
    endpoint: simulator.endpoint,
    qps: 4,
    clock,
    dispatcher: agent,
    random: () => 0.5,
  });
  const config = parsePollerConfig({
    WATCH_FLOWS: `${FLOW_A},${FLOW_B}`,
    DISCOVERY_INTERVAL_SECONDS: '0',
    POLL_QPS: '4',
    CAMS_ACCOUNT_QPS: '5',
    POLL_INTERVALS: '*=60,DEPRECATED=60,THROTTLED=60,BLOCKED=60',
  });
  const logs: LogEntry[] = [];
  const sentToE: Array<{ flowId: string; atMs: number }> = [];
  let runStart = 0;
  /** F stands for a receiver that accepts the connection and never answers: the publisher's 15 s timeout, in virtual time. */
  const state = { fHangs: false };
  const run = (timeoutS: number) => {
    runStart = clock.now();
    return runPoller(
      {
        cams,
        store,
        endpoints,
        clock,
        random: () => 0.5,
        log: (entry) => logs.push(entry),
        deliver: async (event, endpoint, options) => {
          if (endpoint.id === E)
            sentToE.push({ flowId: event.data.flowId ?? '', atMs: clock.now() - runStart });
          if (endpoint.id === F && state.fHangs) {
            await clock.sleep(15_000, options?.signal);
            return { kind: 'retry', reason: 'timeout' };
          }
          return publisher.deliver(event, endpoint, options);
        },
      },
      { config, credentials: SIMULATOR_CREDENTIALS, deadlineMs: clock.now() + timeoutS * 1000 },
    );
  };
  return { clock, simulator, slowF, healthyE, store, F, E, run, sentToE, logs, state };
}

/** Flow A owes one event to [F, E], flow B one event to [E] only, both due now. */
async function owe(w: Awaited<ReturnType<typeof world>>) {
  await w.run(60);
  w.slowF.setResponse(503);
  w.healthyE.setResponse(503);
  w.simulator.setStatus(FLOW_A, 'BLOCKED');
  w.simulator.setStatus(FLOW_B, 'BLOCKED');
  w.clock.advance(61_000);
  expect(await w.run(60)).toMatchObject({ changes: 2, pending: 2 });
  for (const item of await w.store.list<FlowRecord>('flow/')) {
    const record = structuredClone(item.value);
    for (const entry of record.outbox) {
      entry.pendingEndpoints = record.flowId === FLOW_A ? [w.F, w.E] : [w.E];
      entry.nextAttemptAt = 0;
    }
    expect(await w.store.put(item.key, record, item.version)).toBeDefined();
  }
  // The next checks are not due before 60 s: the runs below only deliver.
  w.clock.advance(1_000);
  w.state.fHangs = true;
  w.healthyE.setResponse(200);
  w.sentToE.length = 0;
}

describe("first contact: a pass owed to a healthy endpoint does not wait for another pass's hang elsewhere", () => {
  it('in a 60 s run, flow B reaches the healthy endpoint at once while flow A waits out F', async () => {
    const w = await world();
    await owe(w);
    await w.run(60);
    const b = w.sentToE.find((sent) => sent.flowId === FLOW_B);
    expect(b?.atMs).toBeLessThan(15_000);
  });

  it('in a 12 s run, flow B, owed only to the healthy endpoint, is delivered', async () => {
    const w = await world();
    await owe(w);
    await w.run(12);
    expect(w.sentToE.filter((sent) => sent.flowId === FLOW_B)).toHaveLength(1);
    const records = await w.store.list<FlowRecord>('flow/');
    expect(records.find((item) => item.value.flowId === FLOW_B)?.value.outbox).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { createCamsClient } from '../../shared/cams';
import { type LogEntry, parsePollerConfig, runPoller } from '../../shared/poller';
import type { FlowRecord } from '../../shared/poller/records';
import { createStateStore } from '../../shared/state';
import { createWebhookPublisher, parseWebhookEndpoints } from '../../shared/webhook';
import { CountingAgent } from '../support/counting-agent';
import { VirtualClock } from '../support/virtual-clock';

const FLOW = '960000000000001';
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function twoEndpointWorld() {
  const agent = new CountingAgent();
  const webhookAgent = new CountingAgent();
  const receivers: WebhookReceiver[] = [];
  const clock = new VirtualClock(Date.now(), {
    isBusy: () => agent.inFlight > 0 || webhookAgent.inFlight > receivers.reduce((n, r) => n + r.hanging, 0),
  });
  const simulator = await startCamsSimulator({
    flows: [{ flowId: FLOW, flowName: 'f', status: 'PUBLISHED' }],
    clock,
    rateLimit: 5,
  });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const a = await startWebhookReceiver({ secret });
  const b = await startWebhookReceiver({ secret });
  receivers.push(a, b);
  closers.push(
    () => a.close(),
    () => b.close(),
    () => simulator.close(),
    () => agent.close(),
    () => webhookAgent.close(),
  );
  const store = await createStateStore(`file:${mkdtempSync(join(tmpdir(), 'cfw-two-endpoints-'))}`);
  const endpoints = parseWebhookEndpoints({ WEBHOOK_URL: `${a.url},${b.url}`, WEBHOOK_SECRET: secret });
  const publisher = createWebhookPublisher({
    clock: { now: () => Date.now(), sleep: (ms, signal) => clock.sleep(ms, signal) },
    dispatcher: webhookAgent,
  });
  const cams = createCamsClient({
    endpoint: simulator.endpoint,
    qps: 5,
    clock,
    dispatcher: agent,
    random: () => 0.5,
  });
  const config = parsePollerConfig({
    WATCH_FLOWS: FLOW,
    POLL_QPS: '5',
    CAMS_ACCOUNT_QPS: '6',
    POLL_INTERVALS: '*=60,DEPRECATED=60,THROTTLED=60,BLOCKED=60',
  });
  const logs: LogEntry[] = [];
  const run = () =>
    runPoller(
      {
        cams,
        store,
        endpoints,
        clock,
        random: () => 0.5,
        log: (e) => logs.push(e),
        deliver: (ev, ep, o) => publisher.deliver(ev, ep, o),
      },
      { config, credentials: SIMULATOR_CREDENTIALS, deadlineMs: clock.now() + 60_000 },
    );
  return { clock, simulator, a, b, store, logs, run, endpoints };
}

/**
 * Two endpoints, one asking to wait (429 with Retry-After: 3600), the other failing once then
 * healthy: the pause holds back only the endpoint that asked. The event's own next attempt is its
 * backoff, so the healthy endpoint gets its retry and the flow's later events at once.
 */
describe('a Retry-After pauses only the endpoint that sent it', () => {
  it("the other endpoint gets its retry and the flow's later events while the first waits out its hour", async () => {
    const w = await twoEndpointWorld();
    await w.run(); // baseline
    const aRequests: number[] = [];
    w.a.setResponse(() => {
      aRequests.push(w.clock.now());
      return { status: 429, headers: { 'retry-after': '3600' } };
    });
    let bCalls = 0;
    w.b.setResponse(() => {
      bCalls += 1;
      return { status: bCalls === 1 ? 500 : 204 };
    });
    w.simulator.setStatus(FLOW, 'BLOCKED');
    w.clock.advance(61_000);
    await w.run();
    expect([aRequests.length, bCalls]).toEqual([1, 1]);
    for (let minute = 1; minute <= 4; minute += 1) {
      w.clock.advance(60_000);
      w.simulator.setStatus(FLOW, minute % 2 === 1 ? 'PUBLISHED' : 'BLOCKED');
      await w.run();
    }
    // B: its retry of the first event, then the 4 later changes; A: nothing during its pause.
    expect(bCalls).toBe(6);
    expect(aRequests).toHaveLength(1);
    const [flow] = await w.store.list<FlowRecord>('flow/');
    const owed = flow?.value.outbox ?? [];
    expect(owed).toHaveLength(5);
    const [A, B] = w.endpoints.map((endpoint) => endpoint.id);
    for (const entry of owed) expect(entry.pendingEndpoints).toEqual([A]);
    expect(B).toBeDefined();

    // After the hour, A gets every owed event, oldest first, under the ids B got them under.
    w.a.setResponse(() => {
      aRequests.push(w.clock.now());
      return { status: 204 };
    });
    w.clock.advance(3600_000);
    await w.run();
    const aIds = w.a.received.filter((delivery) => delivery.verified).map((delivery) => delivery.id);
    const bIds = w.b.received.filter((delivery) => delivery.verified).map((delivery) => delivery.id);
    expect(aIds.slice(1)).toEqual([...new Set(bIds)]);
    const [after] = await w.store.list<FlowRecord>('flow/');
    expect(after?.value.outbox).toEqual([]);
  });
});

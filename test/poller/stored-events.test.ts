import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver } from '../../local/webhook-receiver';
import { createCamsClient } from '../../shared/cams';
import { type LogEntry, parsePollerConfig, runPoller } from '../../shared/poller';
import { enqueue } from '../../shared/poller/outbox';
import { flowRecordSchema, parseStored } from '../../shared/poller/record-schema';
import { type FlowRecord, newFlowRecord } from '../../shared/poller/records';
import { createStateStore } from '../../shared/state';
import { createWebhookPublisher, type FlowEvent } from '../../shared/webhook';
import { CountingAgent } from '../support/counting-agent';
import { VirtualClock } from '../support/virtual-clock';

const A = '900000000000001';
const B = '900000000000002';

const closing: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

function owedRecord(): FlowRecord {
  const record = newFlowRecord(A, undefined, 'f');
  const event: FlowEvent = {
    id: 'evt_1',
    type: 'flow.status_changed',
    timestamp: '2026-11-25T12:00:00.000Z',
    data: {
      flowId: A,
      custSpaceId: 'cs',
      flowName: 'f',
      previousStatus: 'DRAFT',
      status: 'PUBLISHED',
      observedAt: '2026-11-25T12:00:00.000Z',
      previousObservedAt: '2026-11-25T11:00:00.000Z',
    },
  };
  enqueue(record, event, ['e1', 'e2'], 0);
  return JSON.parse(JSON.stringify(record)) as FlowRecord;
}

describe('stored outbox events', () => {
  it('a record the poller wrote passes', () => {
    expect(parseStored(flowRecordSchema(), owedRecord()).ok).toBe(true);
  });

  it.each([
    ['previousStatus', { toString: null }],
    ['status', 7],
    ['custSpaceId', ['cs']],
    ['previousObservedAt', null],
  ])('data.%s of another type than string is refused', (field, value) => {
    const record = owedRecord() as unknown as { outbox: Array<{ event: { data: Record<string, unknown> } }> };
    (record.outbox[0] as (typeof record.outbox)[0]).event.data[field] = value;
    const parsed = parseStored(flowRecordSchema(), record);
    expect(parsed).toMatchObject({
      ok: false,
      problem: expect.stringContaining(`outbox.0.event.data.${field}:`),
    });
  });

  it('an endpoint listed twice as pending is refused, in the outbox and the dead letters', () => {
    const owed = owedRecord();
    (owed.outbox[0] as FlowRecord['outbox'][0]).pendingEndpoints = ['e1', 'e2', 'e1'];
    expect(parseStored(flowRecordSchema(), owed)).toEqual({
      ok: false,
      problem: 'outbox.0.pendingEndpoints: lists an endpoint more than once',
    });
    const dead = owedRecord();
    dead.deadLetters = [{ ...(dead.outbox[0] as FlowRecord['outbox'][0]), pendingEndpoints: ['e1', 'e1'] }];
    expect(parseStored(flowRecordSchema(), dead)).toMatchObject({ ok: false });
  });
});

/**
 * Two watched flows against the real simulator, file store and receiver, with the slack format (whose
 * text is built from the event's fields). A's change is left owed, then its stored event is altered.
 */
async function worldWithOwedEvent() {
  const flows = [
    { flowId: A, flowName: 'a', status: 'PUBLISHED' },
    { flowId: B, flowName: 'b', status: 'PUBLISHED' },
  ];
  const agent = new CountingAgent();
  const webhookAgent = new CountingAgent();
  // A webhook in flight holds virtual time too, so the run's end does not overtake a loopback answer.
  const clock = new VirtualClock(Date.now(), {
    isBusy: () => agent.inFlight > 0 || webhookAgent.inFlight > 0,
  });
  const simulator = await startCamsSimulator({ flows, clock, rateLimit: 5 });
  const receiver = await startWebhookReceiver({ secret: 'unused', respond: 200 });
  closing.push(
    () => agent.close(),
    () => webhookAgent.close(),
    () => simulator.close(),
    () => receiver.close(),
  );
  const store = await createStateStore(`file:${mkdtempSync(join(tmpdir(), 'cfw-stored-'))}`);
  const cams = createCamsClient({
    endpoint: simulator.endpoint,
    qps: 4,
    clock,
    dispatcher: agent,
    random: () => 0.5,
  });
  const config = parsePollerConfig({ WATCH_FLOWS: `${A},${B}`, POLL_QPS: '4', POLL_INTERVALS: '*=60' });
  const publisher = createWebhookPublisher({ timeoutMs: 5000, dispatcher: webhookAgent });
  const endpoint = { id: 'e1', url: receiver.url, format: 'slack' as const };
  const logs: LogEntry[] = [];
  const run = () => {
    clock.advance(10 * 60_000);
    return runPoller(
      {
        cams,
        store,
        endpoints: [endpoint],
        clock,
        random: () => 0.5,
        log: (entry) => logs.push(entry),
        deliver: (event, to) => publisher.deliver(event, to),
      },
      { config, credentials: SIMULATOR_CREDENTIALS, deadlineMs: clock.now() + 60_000 },
    );
  };
  await run();
  simulator.setStatus(A, 'THROTTLED');
  receiver.setResponse(503);
  expect(await run()).toMatchObject({ changes: 1, delivered: 0 });
  receiver.setResponse(200);
  const key = `flow/-/${A}`;
  const alter = async (change: (record: FlowRecord) => void) => {
    const item = await store.get<FlowRecord>(key);
    if (!item) throw new Error('no record for A');
    change(item.value);
    await store.put(key, item.value, item.version);
  };
  return { simulator, receiver, logs, run, alter, key };
}

describe('a corrupt owed event in the poller', () => {
  it.each<[string, (record: FlowRecord) => void]>([
    [
      'a status of another type',
      (record) => {
        (record.outbox[0]?.event.data as unknown as Record<string, unknown>).previousStatus = {
          toString: null,
        };
      },
    ],
    [
      'an endpoint listed twice',
      (record) => {
        (record.outbox[0] as FlowRecord['outbox'][0]).pendingEndpoints = ['e1', 'e1'];
      },
    ],
  ])('%s quarantines that flow only; fixed, the event is sent once', async (_name, corrupt) => {
    const world = await worldWithOwedEvent();
    const before = world.receiver.received.length;
    await world.alter(corrupt);
    world.simulator.setStatus(B, 'BLOCKED');
    const summary = await world.run();
    expect(summary).toMatchObject({ changes: 1, delivered: 1, failed: 0 });
    expect(world.receiver.received.slice(before).map((delivery) => JSON.parse(delivery.body).text)).toEqual([
      expect.stringContaining(`[${B}]`),
    ]);
    expect(world.logs).toContainEqual(
      expect.objectContaining({ level: 'error', key: world.key, msg: expect.stringMatching(/unusable/) }),
    );
    expect(world.logs).not.toContainEqual(expect.objectContaining({ msg: 'flow check crashed' }));

    // The operator repairs the record: the owed event goes out once, under its id.
    await world.alter((record) => {
      const entry = record.outbox[0] as FlowRecord['outbox'][0];
      entry.event.data.previousStatus = 'PUBLISHED';
      entry.pendingEndpoints = ['e1'];
    });
    const after = world.receiver.received.length;
    expect(await world.run()).toMatchObject({ delivered: 1, failed: 0 });
    const texts = world.receiver.received.slice(after).map((delivery) => JSON.parse(delivery.body).text);
    expect(texts).toEqual([expect.stringContaining(`[${A}]`)]);
    expect(texts[0]).toContain('from PUBLISHED to THROTTLED');
  });
});

import { describe, expect, it } from 'vitest';
import {
  applyAcknowledgements,
  applyCharges,
  applyDeadLetters,
  deliverOutbox,
  enqueue,
  retryDelayMs,
} from '../../shared/poller/outbox';
import { type FlowRecord, newFlowRecord } from '../../shared/poller/records';
import type { DeliveryOutcome, FlowEvent, WebhookEndpoint } from '../../shared/webhook';

const HOUR = 3600_000;
const endpointA: WebhookEndpoint = { id: 'a', url: 'http://127.0.0.1:1/a', format: 'standard' };
const endpointB: WebhookEndpoint = { id: 'b', url: 'http://127.0.0.1:1/b', format: 'standard' };
const endpoints = new Map([
  ['a', endpointA],
  ['b', endpointB],
]);

function event(id: string): FlowEvent {
  return {
    id,
    type: 'flow.status_changed',
    timestamp: '2026-11-25T12:00:00.000Z',
    data: { flowId: '1', flowName: 'f', status: id, observedAt: '2026-11-25T12:00:00.000Z' },
  };
}

function recordWith(ids: string[], now = 0): FlowRecord {
  const record = newFlowRecord('1', undefined, 'f');
  for (const id of ids) enqueue(record, event(id), ['a', 'b'], now);
  return record;
}

/** A fake transport: answers per endpoint from a script, records what it was asked to send. */
function transport(answer: (endpointId: string, eventId: string) => DeliveryOutcome) {
  const sent: string[] = [];
  return {
    sent,
    deliver: async (flowEvent: FlowEvent, endpoint: WebhookEndpoint) => {
      sent.push(`${endpoint.id}:${flowEvent.id}`);
      return answer(endpoint.id, flowEvent.id);
    },
  };
}

const ok: DeliveryOutcome = { kind: 'delivered', httpStatus: 200 };
const options = (now: number) => ({
  endpoints,
  now: () => now,
  random: () => 0.5,
  maxAgeMs: 72 * HOUR,
  shouldStop: () => false,
});

describe('outbox', () => {
  it('queues an event once, however often the same change is enqueued', () => {
    const record = recordWith(['e1', 'e1']);
    expect(record.outbox).toHaveLength(1);
  });

  it('delivers a flow’s events oldest first to every endpoint and empties the outbox', async () => {
    const record = recordWith(['e1', 'e2']);
    const fake = transport(() => ok);
    const report = await deliverOutbox({ ...options(0), record, deliver: fake.deliver });
    expect(fake.sent).toEqual(['a:e1', 'b:e1', 'a:e2', 'b:e2']);
    expect(report.delivered).toBe(4);
    expect(record.outbox).toEqual([]);
  });

  it('holds later events for an endpoint that failed, keeps serving the others', async () => {
    const record = recordWith(['e1', 'e2']);
    const fake = transport((endpointId) =>
      endpointId === 'a' ? { kind: 'retry', httpStatus: 503, reason: 'HTTP 503' } : ok,
    );
    await deliverOutbox({ ...options(1000), record, deliver: fake.deliver });
    expect(fake.sent).toEqual(['a:e1', 'b:e1', 'b:e2']);
    expect(record.outbox.map((entry) => [entry.event.id, entry.pendingEndpoints])).toEqual([
      ['e1', ['a']],
      ['e2', ['a']],
    ]);
    expect(record.outbox[0]).toMatchObject({ attempts: 1, lastReason: 'HTTP 503' });
    expect(record.outbox[0]?.nextAttemptAt).toBeGreaterThan(1000);
  });

  it('backs off exponentially with jitter (a Retry-After pauses the endpoint instead: retry-after-pause.test.ts)', () => {
    expect(retryDelayMs(1, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(1, () => 0)).toBe(4_000);
    expect(retryDelayMs(1, () => 1)).toBe(6_000);
    expect(retryDelayMs(3, () => 0.5)).toBe(300_000);
    expect(retryDelayMs(99, () => 0.5)).toBe(5 * HOUR);
  });

  it('does not retry before nextAttemptAt, then delivers in order', async () => {
    const record = recordWith(['e1', 'e2']);
    const failing = transport(() => ({ kind: 'retry', reason: 'HTTP 503' }));
    await deliverOutbox({ ...options(0), record, deliver: failing.deliver });
    const early = transport(() => ok);
    await deliverOutbox({ ...options(4_999), record, deliver: early.deliver });
    expect(early.sent).toEqual([]);
    const later = transport(() => ok);
    await deliverOutbox({ ...options(5_000), record, deliver: later.deliver });
    expect(later.sent).toEqual(['a:e1', 'b:e1', 'a:e2', 'b:e2']);
    expect(record.outbox).toEqual([]);
  });

  it('reports an endpoint that answered 410 and stops owing it events', async () => {
    const record = recordWith(['e1']);
    const fake = transport((endpointId) => (endpointId === 'b' ? { kind: 'gone', httpStatus: 410 } : ok));
    const report = await deliverOutbox({ ...options(0), record, deliver: fake.deliver });
    expect(report.gone).toEqual(['b']);
    expect(record.outbox).toEqual([]);
  });

  it('moves events older than the maximum age to dead letters without sending them', async () => {
    const record = recordWith(['old'], 0);
    enqueue(record, event('new'), ['a', 'b'], 72 * HOUR);
    const fake = transport(() => ok);
    const report = await deliverOutbox({ ...options(72 * HOUR + 1), record, deliver: fake.deliver });
    expect(fake.sent).toEqual(['a:new', 'b:new']);
    expect(report.deadLettered.map((entry) => entry.event.id)).toEqual(['old']);
    expect(record.deadLetters.map((entry) => entry.event.id)).toEqual(['old']);
    expect(record.outbox).toEqual([]);
  });

  it('drops endpoints no longer configured', async () => {
    const record = recordWith(['e1']);
    const fake = transport(() => ok);
    await deliverOutbox({
      ...options(0),
      endpoints: new Map([['a', endpointA]]),
      record,
      deliver: fake.deliver,
    });
    expect(fake.sent).toEqual(['a:e1']);
    expect(record.outbox).toEqual([]);
  });

  it('an attempt declined as skipped is not charged, records nothing, and holds that endpoint’s later events back', async () => {
    const record = recordWith(['e1', 'e2']);
    const sent: string[] = [];
    const report = await deliverOutbox({
      ...options(0),
      record,
      deliver: async (flowEvent, endpoint) => {
        if (endpoint.id === 'a') return 'skipped';
        sent.push(`${endpoint.id}:${flowEvent.id}`);
        return ok;
      },
    });
    expect(sent).toEqual(['b:e1', 'b:e2']);
    expect(record.outbox.map((entry) => [entry.event.id, entry.pendingEndpoints, entry.attempts])).toEqual([
      ['e1', ['a'], 0],
      ['e2', ['a'], 0],
    ]);
    expect(record.outbox.map((entry) => entry.nextAttemptAt)).toEqual([0, 0]);
    expect(report.failed).toEqual([]);
    expect(report.charged).toEqual([]);
    expect(report.notes.every((note) => note.endpointId === 'b')).toBe(true);
  });

  it('re-applies the charges of failed attempts onto a record written meanwhile', async () => {
    const record = recordWith(['e1', 'e2']);
    const written = structuredClone(record);
    const report = await deliverOutbox({
      ...options(1000),
      record,
      deliver: transport((endpointId) => (endpointId === 'a' ? { kind: 'retry', reason: 'timeout' } : ok))
        .deliver,
    });
    expect(report.charged).toEqual([
      { eventId: 'e1', attempts: 1, nextAttemptAt: 6000, lastReason: 'timeout' },
    ]);
    applyCharges(written, report.charged);
    expect(
      written.outbox.map((entry) => [entry.event.id, entry.attempts, entry.nextAttemptAt, entry.lastReason]),
    ).toEqual([
      ['e1', 1, 6000, 'timeout'],
      ['e2', 0, 0, undefined],
    ]);
  });

  it('re-applies dead-lettering onto a record written meanwhile, so the next pass does not report it again', async () => {
    const record = recordWith(['old'], 0);
    enqueue(record, event('new'), ['a', 'b'], 72 * HOUR);
    // A check of the flow wrote while this pass ran: it still holds 'old' in its outbox.
    const written = structuredClone(record);
    enqueue(written, event('newer'), ['a', 'b'], 72 * HOUR);
    const report = await deliverOutbox({
      ...options(72 * HOUR + 1),
      record,
      deliver: transport(() => ({ kind: 'retry', reason: 'timeout' })).deliver,
    });
    expect(report.deadLettered.map((entry) => entry.event.id)).toEqual(['old']);
    applyDeadLetters(written, report.deadLettered);
    expect(written.outbox.map((entry) => entry.event.id)).toEqual(['new', 'newer']);
    expect(written.deadLetters.map((entry) => entry.event.id)).toEqual(['old']);
    const next = await deliverOutbox({
      ...options(72 * HOUR + 2),
      record: written,
      deliver: transport(() => ok).deliver,
    });
    expect(next.deadLettered).toEqual([]);
    // Applying it twice (a second conflict) moves nothing twice.
    applyDeadLetters(written, report.deadLettered);
    expect(written.deadLetters.map((entry) => entry.event.id)).toEqual(['old']);
  });

  it('re-applies acknowledgements onto a record another run wrote meanwhile', () => {
    const record = recordWith(['e1', 'e2']);
    applyAcknowledgements(record, ['e1 a', 'e1 b', 'e2 a']);
    expect(record.outbox.map((entry) => [entry.event.id, entry.pendingEndpoints])).toEqual([['e2', ['b']]]);
  });
});

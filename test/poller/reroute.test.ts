import { describe, expect, it } from 'vitest';
import { recordTransition } from '../../shared/poller/history';
import { enqueue } from '../../shared/poller/outbox';
import { type FlowRecord, newFlowRecord } from '../../shared/poller/records';
import { rerouteOwedEvents } from '../../shared/poller/reroute';
import type { FlowEvent } from '../../shared/webhook';

const NOW = Date.UTC(2026, 10, 25, 12);
const event: FlowEvent = {
  id: 'evt_1',
  type: 'flow.status_changed',
  timestamp: '2026-11-25T12:00:00.000Z',
  data: { flowId: '1', flowName: 'f', status: 'BLOCKED', observedAt: '2026-11-25T12:00:00.000Z' },
};

/** An event owed to a and b, which a has acknowledged. */
function owedToB(options: { hasHistory: boolean }): FlowRecord {
  const record = newFlowRecord('1', undefined, 'f');
  enqueue(record, event, ['a', 'b'], NOW);
  if (options.hasHistory) {
    recordTransition(record, event, ['a', 'b']);
    const [delivery] = record.history?.[0]?.deliveries ?? [];
    if (delivery) delivery.state = 'delivered';
  }
  const [entry] = record.outbox;
  if (entry) entry.pendingEndpoints = ['b'];
  return record;
}

describe('rerouting events owed to an endpoint that left WEBHOOK_URL', () => {
  it('sends them to configured endpoints that have not acknowledged them, once, and closes the dropped one', () => {
    const record = owedToB({ hasHistory: true });
    expect(rerouteOwedEvents(record, new Set(['a', 'c']), ['a', 'c'], NOW)).toBe(1);
    expect(record.outbox[0]?.pendingEndpoints).toEqual(['c']);
    expect(
      record.history?.[0]?.deliveries.map((delivery) => `${delivery.endpointId}:${delivery.state}`),
    ).toEqual(['a:delivered', 'b:rerouted', 'c:pending']);
    const again = structuredClone(record);
    expect(rerouteOwedEvents(again, new Set(['a', 'c']), ['a', 'c'], NOW)).toBe(0);
    expect(again).toEqual(record);
  });

  it('owes nothing more when every configured endpoint already has it', () => {
    const record = owedToB({ hasHistory: true });
    rerouteOwedEvents(record, new Set(['a']), ['a'], NOW);
    expect(record.outbox).toEqual([]);
    expect(record.history?.[0]?.deliveries.map((delivery) => delivery.state)).toEqual([
      'delivered',
      'rerouted',
    ]);
  });

  it('sends them to every configured endpoint when the history no longer holds the event: at least once', () => {
    const record = owedToB({ hasHistory: false });
    rerouteOwedEvents(record, new Set(['a', 'c']), ['a', 'c'], NOW);
    expect(record.outbox[0]?.pendingEndpoints).toEqual(['a', 'c']);
  });
});

import type { FlowEvent } from '../webhook';
import { eventFromHistory } from './events';
import { applyDeliveryNotes } from './history';
import type { FlowRecord } from './records';

export type RequeueResult =
  | {
      readonly kind: 'requeued';
      readonly event: FlowEvent;
      readonly endpointIds: readonly string[];
      /** Where the event came back from: the dead letters, or the history of a delivered event. */
      readonly source: 'dead-letter' | 'history';
    }
  | { readonly kind: 'already-pending'; readonly event: FlowEvent; readonly endpointIds: readonly string[] }
  /** The history names the event but it was owed to no endpoint (no WEBHOOK_URL then). */
  | { readonly kind: 'no-endpoints'; readonly event: FlowEvent }
  /** Every endpoint it would go to is silenced (410 Gone): the poller sends nothing there now. */
  | { readonly kind: 'all-gone'; readonly event: FlowEvent; readonly endpointIds: readonly string[] }
  /** The history entry no longer rebuilds to its own id: the record was altered outside the poller. */
  | { readonly kind: 'inconsistent' }
  | { readonly kind: 'not-found' };

/** Whether this record knows the event at all: owed, dead-lettered or in its history. */
export function holdsEvent(record: FlowRecord, eventId: string): boolean {
  return (
    record.outbox.some((entry) => entry.event.id === eventId) ||
    record.deadLetters.some((entry) => entry.event.id === eventId) ||
    (record.history ?? []).some((entry) => entry.eventId === eventId)
  );
}

/**
 * Puts a dead-lettered or delivered event back in the record's outbox under its own id, so the
 * next poller run delivers it again (receivers dedupe by id, so a resend is safe). Mutates
 * `record`; the caller writes it back by compare-and-set. Asking again while the event is still
 * owed changes nothing.
 */
export function requeueEvent(
  record: FlowRecord,
  eventId: string,
  now: number,
  /** Endpoints whose `endpoint/<id>` row says 410 Gone now (goneEndpointIds): the poller skips them. */
  goneEndpoints: ReadonlySet<string> = new Set(),
): RequeueResult {
  const owed = record.outbox.find((entry) => entry.event.id === eventId);
  if (owed) return { kind: 'already-pending', event: owed.event, endpointIds: owed.pendingEndpoints };
  const historyEntry = (record.history ?? []).find((entry) => entry.eventId === eventId);
  const everyEndpoint = historyEntry?.deliveries.map((delivery) => delivery.endpointId) ?? [];
  const dead = record.deadLetters.find((entry) => entry.event.id === eventId);
  let event: FlowEvent;
  let endpointIds: string[];
  if (dead) {
    event = dead.event;
    // Endpoints that did acknowledge it are not sent it twice.
    endpointIds = dead.pendingEndpoints.length > 0 ? [...dead.pendingEndpoints] : everyEndpoint;
  } else if (historyEntry) {
    event = eventFromHistory(record, historyEntry);
    if (event.id !== eventId) return { kind: 'inconsistent' };
    endpointIds = everyEndpoint;
  } else {
    return { kind: 'not-found' };
  }
  if (endpointIds.length === 0) return { kind: 'no-endpoints', event };
  // An endpoint silenced by a 410 Gone is sent nothing (the poller drops it from every outbox
  // entry) until its row is deleted: requeued to it, the event would be listed as pending there
  // forever. Its row, not this event's history, says so: the 410 may have come for another event,
  // and a row an operator deleted un-silences it.
  const live = endpointIds.filter((endpointId) => !goneEndpoints.has(endpointId));
  if (live.length === 0) return { kind: 'all-gone', event, endpointIds };
  endpointIds = live;
  record.deadLetters = record.deadLetters.filter((entry) => entry.event.id !== eventId);
  record.outbox.push({
    event,
    pendingEndpoints: endpointIds,
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
  });
  const at = new Date(now).toISOString();
  applyDeliveryNotes(
    record,
    endpointIds.map((endpointId) => ({ eventId, endpointId, state: 'pending', attempted: false, at })),
  );
  if (historyEntry) historyEntry.redeliveredAt = at;
  return { kind: 'requeued', event, endpointIds, source: dead ? 'dead-letter' : 'history' };
}

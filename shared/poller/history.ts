import * as z from 'zod/mini';
import '../zod-english';
import { onFirstUse } from '../on-first-use';
import type { FlowEvent } from '../webhook';
import type { FlowRecord } from './records';

/** Enough for "what did this flow go through this week" at any sane interval, small enough per row. */
export const MAX_HISTORY = 50;

/** `REMOVED` stands in for the status of a flow that vanished; it is no CAMS status. */
export const REMOVED_STATUS = 'REMOVED';

/** `rerouted`: the endpoint left WEBHOOK_URL while owed the event, which went to the configured ones. */
export const deliveryStateSchema = onFirstUse(() =>
  z.enum(['pending', 'delivered', 'gone', 'dead', 'rerouted']),
);
export type DeliveryState = z.infer<ReturnType<typeof deliveryStateSchema>>;

export const endpointDeliverySchema = onFirstUse(() =>
  z.looseObject({
    endpointId: z.string().check(z.maxLength(200)),
    state: deliveryStateSchema(),
    /** Attempts made to this endpoint, successful or not. */
    attempts: z.int().check(z.gte(0)),
    lastReason: z.optional(z.string().check(z.maxLength(2000))),
    /** When `state` last changed (ISO 8601). */
    updatedAt: z.optional(z.string().check(z.maxLength(64))),
  }),
);
export type EndpointDelivery = z.infer<ReturnType<typeof endpointDeliverySchema>>;

/**
 * One status transition as the poller saw it. With `flowName` and `previousObservedAt` the
 * event announcing it can be rebuilt byte for byte after it left the outbox (for redelivery).
 * Statuses and the flow name come from CAMS answers, unbounded, and deliveries number the
 * configured endpoints: bounding them would make the poller quarantine a record it wrote itself.
 */
export const historyEntrySchema = onFirstUse(() =>
  z.looseObject({
    eventId: z.string().check(z.maxLength(200)),
    type: z.enum(['flow.status_changed', 'flow.removed']),
    from: z.optional(z.string()),
    to: z.string(),
    observedAt: z.string().check(z.maxLength(64)),
    previousObservedAt: z.optional(z.string().check(z.maxLength(64))),
    flowName: z.string(),
    deliveries: z.array(endpointDeliverySchema()),
    /** Set when an operator asked for the event to be sent again (ISO 8601). */
    redeliveredAt: z.optional(z.string().check(z.maxLength(64))),
  }),
);
export type HistoryEntry = z.infer<ReturnType<typeof historyEntrySchema>>;

/** What one delivery pass learnt about one (event, endpoint) pair; re-applied after a write conflict. */
export interface DeliveryNote {
  readonly eventId: string;
  readonly endpointId: string;
  readonly state: DeliveryState;
  /** Whether this note stands for an attempt made (a dead-letter note does not). */
  readonly attempted: boolean;
  readonly reason?: string | undefined;
  readonly at: string;
}

/** Appends the transition `event` announces, owed to `endpointIds`, keeping the last MAX_HISTORY. */
export function recordTransition(record: FlowRecord, event: FlowEvent, endpointIds: readonly string[]): void {
  const history = record.history ?? [];
  if (history.some((entry) => entry.eventId === event.id)) return;
  history.push({
    eventId: event.id,
    type: event.type,
    ...(event.data.previousStatus !== undefined ? { from: event.data.previousStatus } : {}),
    to: event.data.status ?? REMOVED_STATUS,
    observedAt: event.data.observedAt,
    ...(event.data.previousObservedAt !== undefined
      ? { previousObservedAt: event.data.previousObservedAt }
      : {}),
    flowName: event.data.flowName,
    deliveries: endpointIds.map((endpointId) => ({ endpointId, state: 'pending', attempts: 0 })),
  });
  record.history = history.slice(-MAX_HISTORY);
}

/** Writes what delivery passes learnt into the history; notes for entries no longer kept are dropped. */
export function applyDeliveryNotes(record: FlowRecord, notes: readonly DeliveryNote[]): void {
  if (!record.history || notes.length === 0) return;
  const byId = new Map(record.history.map((entry) => [entry.eventId, entry]));
  for (const note of notes) {
    const entry = byId.get(note.eventId);
    if (!entry) continue;
    let delivery = entry.deliveries.find((candidate) => candidate.endpointId === note.endpointId);
    if (!delivery) {
      delivery = { endpointId: note.endpointId, state: 'pending', attempts: 0 };
      entry.deliveries.push(delivery);
    }
    delivery.state = note.state;
    delivery.updatedAt = note.at;
    if (note.attempted) delivery.attempts += 1;
    if (note.reason !== undefined) delivery.lastReason = note.reason;
  }
}

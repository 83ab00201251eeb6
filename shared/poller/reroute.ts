import type { DeliveryState } from './history';
import type { FlowRecord } from './records';

/** States in which an endpoint has answered for the event and must not be sent it again. */
const ACKNOWLEDGED: ReadonlySet<DeliveryState> = new Set(['delivered', 'gone']);

/**
 * Events owed to an endpoint no longer in WEBHOOK_URL go to the endpoints configured now, under
 * the same ids: changing the URL must not silently drop what was owed. An endpoint that already
 * acknowledged the event is not sent it again, since chat robots (DingTalk, Feishu, Slack) ignore
 * `webhook-id` and would post the message twice. The event's history entry says who
 * acknowledged it; when the history no longer holds the event (more than MAX_HISTORY newer
 * transitions, or a record from before histories) nobody is known to have it, and it goes to
 * every active endpoint — at least once wins over at most once. The dropped endpoint's delivery
 * ends as `rerouted`, so the history does not show it pending forever.
 *
 * `configured` holds every endpoint in WEBHOOK_URL, `active` those not silenced by a 410
 * (a silenced one is simply dropped by the delivery pass, as before). Mutates `record`; applying
 * it twice changes nothing more. Resolves to the number of events moved.
 */
export function rerouteOwedEvents(
  record: FlowRecord,
  configured: ReadonlySet<string>,
  active: readonly string[],
  now: number,
): number {
  let moved = 0;
  const at = new Date(now).toISOString();
  for (const entry of record.outbox) {
    const dropped = new Set(entry.pendingEndpoints.filter((id) => !configured.has(id)));
    if (dropped.size === 0) continue;
    moved += 1;
    const historyEntry = record.history?.find((candidate) => candidate.eventId === entry.event.id);
    const acknowledged = new Set(
      historyEntry?.deliveries
        .filter((delivery) => ACKNOWLEDGED.has(delivery.state))
        .map((delivery) => delivery.endpointId),
    );
    const kept = entry.pendingEndpoints.filter((id) => configured.has(id));
    entry.pendingEndpoints = [...new Set([...kept, ...active.filter((id) => !acknowledged.has(id))])];
    // The backoff was the old endpoint's; the new ones have not failed yet.
    entry.nextAttemptAt = Math.min(entry.nextAttemptAt, now);
    if (!historyEntry) continue;
    for (const delivery of historyEntry.deliveries) {
      if (dropped.has(delivery.endpointId) && delivery.state === 'pending') {
        delivery.state = 'rerouted';
        delivery.updatedAt = at;
      }
    }
    for (const endpointId of entry.pendingEndpoints) {
      if (!historyEntry.deliveries.some((delivery) => delivery.endpointId === endpointId)) {
        historyEntry.deliveries.push({ endpointId, state: 'pending', attempts: 0, updatedAt: at });
      }
    }
  }
  // Every configured endpoint may have had it already: nothing is owed any more.
  record.outbox = record.outbox.filter((entry) => entry.pendingEndpoints.length > 0);
  return moved;
}

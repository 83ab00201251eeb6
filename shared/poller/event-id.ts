import { createHash } from 'node:crypto';

/**
 * The id of a change is derived from the change itself — which flow, from what status (and
 * since when) to what — so a retried or overlapping run that sees the same change names it the
 * same way, and a receiver's dedupe by id holds. Hex only: Standard Webhooks forbids `.` in ids.
 */
export function changeEventId(parts: {
  custSpaceId?: string | undefined;
  flowId: string;
  previousStatus?: string | undefined;
  status?: string | undefined;
  previousObservedAt?: string | undefined;
}): string {
  const material = JSON.stringify([
    parts.custSpaceId ?? '',
    parts.flowId,
    parts.previousStatus ?? '',
    parts.status ?? '',
    parts.previousObservedAt ?? '',
  ]);
  return `evt_${createHash('sha256').update(material).digest('hex').slice(0, 32)}`;
}

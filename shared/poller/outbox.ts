import type { DeliveryOutcome, FlowEvent, WebhookEndpoint } from '../webhook';
import { applyDeliveryNotes, type DeliveryNote } from './history';
import type { FlowRecord, OutboxEntry } from './records';

/** Webhook retry schedule after the first failure, as in the Standard Webhooks reference (capped). */
const RETRY_STEPS_MS = [5_000, 30_000, 5 * 60_000, 30 * 60_000, 2 * 3600_000, 5 * 3600_000];
const MAX_DEAD_LETTERS = 50;
/** Reasons can quote a receiver's answer; one stored or logged reason is at most this many bytes. */
export const MAX_REASON_BYTES = 1024;

/**
 * An event's own backoff after a failed attempt. A receiver's Retry-After is not folded in: it
 * pauses that endpoint (EndpointHealth and its endpoint/<id> row), and an event owed to several
 * endpoints would otherwise keep the healthy ones waiting for the one that asked.
 */
export function retryDelayMs(attempts: number, random: () => number): number {
  const step = RETRY_STEPS_MS[Math.min(attempts - 1, RETRY_STEPS_MS.length - 1)] ?? 5_000;
  return Math.floor(step * (0.8 + 0.4 * random()));
}

/** Cuts a receiver-controlled reason to MAX_REASON_BYTES of UTF-8, never inside a character. */
export function boundReason(reason: string): string {
  const text = String(reason);
  if (Buffer.byteLength(text, 'utf8') <= MAX_REASON_BYTES) return text;
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, MAX_REASON_BYTES - 3)
    .toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}...`;
}

export function enqueue(
  record: FlowRecord,
  event: FlowEvent,
  endpointIds: readonly string[],
  now: number,
): void {
  if (endpointIds.length === 0) return;
  if (record.outbox.some((entry) => entry.event.id === event.id)) return;
  record.outbox.push({
    event,
    pendingEndpoints: [...endpointIds],
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
  });
}

export interface DeliveryReport {
  delivered: number;
  gone: string[];
  deadLettered: OutboxEntry[];
  /** `eventId endpointId` pairs acknowledged in this pass, to merge after a write conflict. */
  acknowledged: string[];
  /** Attempts that failed and will be retried, with the reason (never the URL or a secret). */
  failed: Array<{ eventId: string; endpointId: string; reason: string }>;
  /** Every outcome of this pass, for the flow's history; re-applied after a write conflict. */
  notes: DeliveryNote[];
  /** Entries this pass charged a failed attempt, as they stand after it; re-applied after a write conflict. */
  charged: Array<Pick<OutboxEntry, 'attempts' | 'nextAttemptAt' | 'lastReason'> & { eventId: string }>;
}

/** One attempt; `signal` aborts it (the run's end), which is then a `retry` like a timeout. */
export type Deliver = (
  event: FlowEvent,
  endpoint: WebhookEndpoint,
  options?: { signal?: AbortSignal },
) => Promise<DeliveryOutcome>;

/** An attempt that may be declined ('skipped': not tried, so not charged). */
export type TryDeliver = (
  event: FlowEvent,
  endpoint: WebhookEndpoint,
) => Promise<DeliveryOutcome | 'skipped'>;

/**
 * Delivers what is due of one flow's outbox, oldest first. For each endpoint it stops at the
 * first event that fails or is skipped, so that endpoint receives this flow's events in order.
 */
export async function deliverOutbox(options: {
  record: FlowRecord;
  endpoints: ReadonlyMap<string, WebhookEndpoint>;
  deliver: TryDeliver;
  now: () => number;
  random: () => number;
  maxAgeMs: number;
  shouldStop: () => boolean;
}): Promise<DeliveryReport> {
  const { record, endpoints } = options;
  const report: DeliveryReport = {
    delivered: 0,
    gone: [],
    deadLettered: [],
    acknowledged: [],
    failed: [],
    notes: [],
    charged: [],
  };
  const at = () => new Date(options.now()).toISOString();
  const blocked = new Set<string>();
  for (const entry of record.outbox) {
    entry.pendingEndpoints = entry.pendingEndpoints.filter((id) => endpoints.has(id));
    if (options.now() - entry.createdAt > options.maxAgeMs) continue;
    if (entry.nextAttemptAt > options.now()) {
      for (const id of entry.pendingEndpoints) blocked.add(id);
      continue;
    }
    let failedReason: string | undefined;
    for (const endpointId of [...entry.pendingEndpoints]) {
      const endpoint = endpoints.get(endpointId);
      if (!endpoint || blocked.has(endpointId) || options.shouldStop()) continue;
      const outcome = await options.deliver(entry.event, endpoint);
      if (outcome === 'skipped') {
        blocked.add(endpointId);
        continue;
      }
      if (outcome.kind === 'delivered' || outcome.kind === 'gone') {
        entry.pendingEndpoints = entry.pendingEndpoints.filter((id) => id !== endpointId);
        report.acknowledged.push(`${entry.event.id} ${endpointId}`);
        if (outcome.kind === 'delivered') report.delivered += 1;
        else report.gone.push(endpointId);
        report.notes.push({
          eventId: entry.event.id,
          endpointId,
          state: outcome.kind,
          attempted: true,
          at: at(),
        });
      } else {
        blocked.add(endpointId);
        failedReason = boundReason(outcome.reason);
        report.failed.push({ eventId: entry.event.id, endpointId, reason: failedReason });
        report.notes.push({
          eventId: entry.event.id,
          endpointId,
          state: 'pending',
          attempted: true,
          reason: failedReason,
          at: at(),
        });
      }
    }
    if (failedReason !== undefined) {
      entry.attempts += 1;
      entry.lastReason = failedReason;
      entry.nextAttemptAt = options.now() + retryDelayMs(entry.attempts, options.random);
      report.charged.push({
        eventId: entry.event.id,
        attempts: entry.attempts,
        nextAttemptAt: entry.nextAttemptAt,
        lastReason: failedReason,
      });
    }
  }
  const now = options.now();
  const expired = record.outbox.filter(
    (entry) => entry.pendingEndpoints.length > 0 && now - entry.createdAt > options.maxAgeMs,
  );
  report.deadLettered.push(...expired);
  for (const entry of expired) {
    for (const endpointId of entry.pendingEndpoints) {
      report.notes.push({
        eventId: entry.event.id,
        endpointId,
        state: 'dead',
        attempted: false,
        reason: entry.lastReason,
        at: at(),
      });
    }
  }
  applyDeliveryNotes(record, report.notes);
  record.deadLetters = [...record.deadLetters, ...expired].slice(-MAX_DEAD_LETTERS);
  record.outbox = record.outbox.filter(
    (entry) => entry.pendingEndpoints.length > 0 && !expired.includes(entry),
  );
  return report;
}

/** What a delivery pass over a flow's record would do now, told before its delivery lease is taken. */
export interface DeliveryWork {
  /** Endpoints a due event would be sent to (each once the events before it for that endpoint are). */
  readonly endpointIds: ReadonlySet<string>;
  /** Whether it would change the record without sending: dead-letter an expired event, drop an endpoint no longer sent to. */
  readonly hasUpkeep: boolean;
}

/**
 * What a delivery pass over `record` would do now, so that a flow whose events all wait out their
 * backoff, or are owed only to endpoints the run found unreachable, is left alone without taking
 * its delivery lease (two writes) for nothing.
 */
export function deliveryWork(
  record: FlowRecord,
  endpoints: ReadonlyMap<string, WebhookEndpoint>,
  now: number,
  maxAgeMs: number,
): DeliveryWork {
  const blocked = new Set<string>();
  const endpointIds = new Set<string>();
  let hasUpkeep = false;
  for (const entry of record.outbox) {
    if (entry.pendingEndpoints.some((id) => !endpoints.has(id))) hasUpkeep = true;
    if (now - entry.createdAt > maxAgeMs) {
      hasUpkeep = true;
      continue;
    }
    for (const id of entry.pendingEndpoints) {
      if (entry.nextAttemptAt > now) blocked.add(id);
      else if (endpoints.has(id) && !blocked.has(id)) endpointIds.add(id);
    }
  }
  return { endpointIds, hasUpkeep };
}

/** Re-applies failed attempts' charges (attempts, backoff) to a record written meanwhile. */
export function applyCharges(record: FlowRecord, charged: DeliveryReport['charged']): void {
  for (const charge of charged) {
    const entry = record.outbox.find((candidate) => candidate.event.id === charge.eventId);
    if (!entry) continue;
    entry.attempts = Math.max(entry.attempts, charge.attempts);
    entry.nextAttemptAt = Math.max(entry.nextAttemptAt, charge.nextAttemptAt);
    entry.lastReason = charge.lastReason;
  }
}

/**
 * Re-applies dead-lettering to a record written meanwhile (a check of the flow, another run): the
 * events that expired in this pass leave its outbox for its dead letters, so the next pass does not
 * find them expired again and report them (and log them) a second time.
 */
export function applyDeadLetters(record: FlowRecord, deadLettered: readonly OutboxEntry[]): void {
  const expired = new Set(deadLettered.map((entry) => entry.event.id));
  const moving = record.outbox.filter((entry) => expired.has(entry.event.id));
  if (moving.length === 0) return;
  record.deadLetters = [...record.deadLetters, ...moving].slice(-MAX_DEAD_LETTERS);
  record.outbox = record.outbox.filter((entry) => !expired.has(entry.event.id));
}

/** Re-applies acknowledgements to a record another run wrote meanwhile. */
export function applyAcknowledgements(record: FlowRecord, acknowledged: readonly string[]): void {
  const done = new Set(acknowledged);
  for (const entry of record.outbox) {
    entry.pendingEndpoints = entry.pendingEndpoints.filter((id) => !done.has(`${entry.event.id} ${id}`));
  }
  record.outbox = record.outbox.filter((entry) => entry.pendingEndpoints.length > 0);
}

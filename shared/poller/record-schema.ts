import * as z from 'zod/mini';
import '../zod-english';
import { onFirstUse } from '../on-first-use';
import { MAX_RETRY_AFTER_MS } from '../webhook/retry-after';
import { historyEntrySchema } from './history';
import {
  type DiscoveryRecord,
  ENDPOINT_PREFIX,
  type EndpointRecord,
  type FlowRecord,
  flowKey,
} from './records';

/**
 * Schemas for what the poller reads back from the state store, which may hold anything: a
 * truncated write, a hand edit, another version's record. Loose objects on purpose: a newer
 * deployment may add fields (and an older one must keep them when it writes the record back),
 * while a known field of the wrong type is refused. The poller and the HTTP function's operator
 * routes read flow records through the same schema, so both agree on which records are usable.
 */

/** The last instant a JavaScript Date holds (ECMA-262, Time Values): beyond it toISOString throws. */
export const MAX_EPOCH_MS = 8.64e15;

// zod 4 numbers refuse Infinity and NaN already; a time no Date can show is no time we wrote.
const epochMs = () => z.number().check(z.gte(0), z.lte(MAX_EPOCH_MS));

const eventSchema = () =>
  z.looseObject({
    id: z.string().check(z.minLength(1), z.maxLength(200)),
    type: z.enum(['flow.status_changed', 'flow.removed']),
    timestamp: z.string(),
    // Every field a format puts into a request: one of another type would make the build fail.
    data: z.looseObject({
      flowId: z.string().check(z.minLength(1)),
      custSpaceId: z.optional(z.string()),
      flowName: z.string(),
      previousStatus: z.optional(z.string()),
      status: z.optional(z.string()),
      observedAt: z.string(),
      previousObservedAt: z.optional(z.string()),
    }),
  });

// The delivery pass walks a copy of this list: an id listed twice would be sent the event twice.
const endpointIdsSchema = () =>
  z
    .array(z.string())
    .check(z.refine((ids) => new Set(ids).size === ids.length, 'lists an endpoint more than once'));

const outboxEntrySchema = () =>
  z.looseObject({
    event: eventSchema(),
    pendingEndpoints: endpointIdsSchema(),
    attempts: z.int().check(z.gte(0)),
    nextAttemptAt: epochMs(),
    createdAt: epochMs(),
    lastReason: z.optional(z.string()),
  });

export const flowRecordSchema = onFirstUse(() =>
  z.looseObject({
    flowId: z.string().check(z.minLength(1)),
    custSpaceId: z.optional(z.string().check(z.minLength(1))),
    flowName: z.string(),
    status: z.optional(z.string().check(z.minLength(1))),
    statusSince: z.optional(z.string()),
    observedAt: z.optional(epochMs()),
    lastCheckedAt: z.optional(epochMs()),
    failures: z.int().check(z.gte(0)),
    lastError: z.optional(z.string()),
    retryAt: z.optional(epochMs()),
    removed: z.optional(z.boolean()),
    outbox: z.array(outboxEntrySchema()),
    deadLetters: z.array(outboxEntrySchema()),
    history: z.optional(z.array(historyEntrySchema())),
    deliveryLease: z.optional(
      z.looseObject({ owner: z.string().check(z.minLength(1), z.maxLength(200)), until: epochMs() }),
    ),
  }),
);

export const discoveryRecordSchema = onFirstUse(() =>
  z.looseObject({
    lastRunAt: epochMs(),
    flowIds: z.array(z.string()),
  }),
);

export const endpointRecordSchema = onFirstUse(() =>
  z.looseObject({
    gone: z.boolean(),
    goneAt: z.string(),
    httpStatus: z.number(),
    pausedUntil: z.optional(epochMs()),
  }),
);

/** The record, or a one-line reason it cannot be used (the first few schema issues). */
export function parseStored<T>(
  schema: z.ZodMiniType,
  value: unknown,
): { ok: true; record: T } | { ok: false; problem: string } {
  const parsed = schema.safeParse(value);
  // The value as stored, not zod's output: a parse puts known keys first, and a redelivered or
  // retried event must keep the exact bytes (and key order) it was first announced with.
  if (parsed.success) return { ok: true, record: value as T };
  const problem = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'record'}: ${issue.message}`)
    .join('; ');
  return { ok: false, problem };
}

/**
 * A flow record as the poller and the operator routes both judge it: the schema, and a key that is
 * the one its flowId and custSpaceId make (a record copied or renamed by hand, or written under
 * another version's keys, is never checked or delivered from by the poller, so it must not look
 * usable to an operator either).
 */
export function parseFlowRecordAt(
  key: string,
  value: unknown,
): { ok: true; record: FlowRecord } | { ok: false; problem: string } {
  const parsed = parseStored<FlowRecord>(flowRecordSchema(), value);
  if (parsed.ok && flowKey(parsed.record.flowId, parsed.record.custSpaceId) !== key) {
    return { ok: false, problem: 'its flowId/custSpaceId do not match its key' };
  }
  return parsed;
}

/**
 * The webhook endpoints the poller no longer sends to: their `endpoint/<id>` row says they
 * answered 410 Gone (until it is deleted or the configuration changes). An unusable row silences
 * nothing; `onUnusable` hears of it.
 */
export function goneEndpointIds(
  items: ReadonlyArray<{ key: string; value: unknown; unreadable?: string | undefined }>,
  onUnusable: (key: string) => void = () => undefined,
): Set<string> {
  const gone = new Set<string>();
  for (const item of items) {
    const parsed = parseStored<EndpointRecord>(endpointRecordSchema(), item.value);
    if (item.unreadable || !parsed.ok) onUnusable(item.key);
    else if (parsed.record.gone) gone.add(item.key.slice(ENDPOINT_PREFIX.length));
  }
  return gone;
}

/**
 * The webhook endpoints a receiver's Retry-After asked to wait, each with the time (epoch ms)
 * before which nothing is sent to it. A time further ahead than any Retry-After the publisher
 * takes (1 h) is none it wrote: it pauses nothing, so a damaged row cannot silence an endpoint
 * for good. Unusable rows pause nothing either (goneEndpointIds reports them).
 */
export function pausedEndpoints(
  items: ReadonlyArray<{ key: string; value: unknown; unreadable?: string | undefined }>,
  now: number,
): Map<string, number> {
  const paused = new Map<string, number>();
  for (const item of items) {
    if (item.unreadable) continue;
    const parsed = parseStored<EndpointRecord>(endpointRecordSchema(), item.value);
    const until = parsed.ok && !parsed.record.gone ? parsed.record.pausedUntil : undefined;
    if (until !== undefined && until > now && until <= now + MAX_RETRY_AFTER_MS) {
      paused.set(item.key.slice(ENDPOINT_PREFIX.length), until);
    }
  }
  return paused;
}

export type { DiscoveryRecord, EndpointRecord, FlowRecord };

import { z } from 'zod';
import type { DiscoveryRecord, EndpointRecord, FlowRecord } from './records';

/**
 * Schemas for what the poller reads back from the state store, which may hold anything: a
 * truncated write, a hand edit, another version's record. Loose objects on purpose: a newer
 * deployment may add fields (and an older one must keep them when it writes the record back),
 * while a known field of the wrong type is refused.
 */

const epochMs = z.number().finite();

const eventSchema = z.looseObject({
  id: z.string().min(1).max(200),
  type: z.enum(['flow.status_changed', 'flow.removed']),
  timestamp: z.string(),
  data: z.looseObject({ flowId: z.string().min(1), flowName: z.string(), observedAt: z.string() }),
});

const outboxEntrySchema = z.looseObject({
  event: eventSchema,
  pendingEndpoints: z.array(z.string()),
  attempts: z.number().int().min(0),
  nextAttemptAt: epochMs,
  createdAt: epochMs,
  lastReason: z.string().optional(),
});

export const flowRecordSchema = z.looseObject({
  flowId: z.string().min(1),
  custSpaceId: z.string().min(1).optional(),
  flowName: z.string(),
  status: z.string().min(1).optional(),
  statusSince: z.string().optional(),
  observedAt: epochMs.optional(),
  lastCheckedAt: epochMs.optional(),
  failures: z.number().int().min(0),
  lastError: z.string().optional(),
  retryAt: epochMs.optional(),
  removed: z.boolean().optional(),
  outbox: z.array(outboxEntrySchema),
  deadLetters: z.array(outboxEntrySchema),
});

export const discoveryRecordSchema = z.looseObject({
  lastRunAt: epochMs,
  flowIds: z.array(z.string()),
});

export const endpointRecordSchema = z.looseObject({
  gone: z.boolean(),
  goneAt: z.string(),
  httpStatus: z.number(),
});

/** The record, or a one-line reason it cannot be used (the first few schema issues). */
export function parseStored<T>(
  schema: z.ZodType,
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

export type { DiscoveryRecord, EndpointRecord, FlowRecord };

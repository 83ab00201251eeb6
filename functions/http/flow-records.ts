import * as z from 'zod/mini';
import { historyEntrySchema } from '../../shared/poller/history';
import { FLOW_PREFIX, type FlowRecord } from '../../shared/poller/records';
import type { StateStore } from '../../shared/state';
import { mapStateErrors } from './state-store';

/**
 * What this function reads of the poller's flow records, checked as hostile input: a record
 * another version wrote, or one damaged in the store, must not break a listing. Unknown keys
 * pass through untouched, so a record written back (redelivery) keeps what other code added.
 */
const eventSchema = z.looseObject({
  id: z.string().check(z.maxLength(200)),
  type: z.enum(['flow.status_changed', 'flow.removed']),
  timestamp: z.string().check(z.maxLength(64)),
  data: z.looseObject({ flowId: z.string(), flowName: z.string() }),
});

const outboxEntrySchema = z.looseObject({
  event: eventSchema,
  pendingEndpoints: z.array(z.string().check(z.maxLength(200))).check(z.maxLength(100)),
  attempts: z.int().check(z.gte(0)),
  nextAttemptAt: z.number(),
  createdAt: z.number(),
  lastReason: z.optional(z.string().check(z.maxLength(2000))),
});

const flowRecordSchema = z.looseObject({
  flowId: z.string().check(z.maxLength(200)),
  custSpaceId: z.optional(z.string().check(z.maxLength(200))),
  flowName: z.string().check(z.maxLength(2000)),
  status: z.optional(z.string().check(z.maxLength(200))),
  statusSince: z.optional(z.string().check(z.maxLength(64))),
  lastCheckedAt: z.optional(z.number()),
  failures: z.int().check(z.gte(0)),
  lastError: z.optional(z.string().check(z.maxLength(2000))),
  removed: z.optional(z.boolean()),
  outbox: z.array(outboxEntrySchema),
  deadLetters: z.array(outboxEntrySchema),
  history: z.optional(z.array(historyEntrySchema)),
});

export interface StoredFlow {
  readonly key: string;
  readonly version: number;
  readonly record: FlowRecord;
}

export interface FlowListing {
  readonly flows: StoredFlow[];
  /** Keys of records that failed the schema; left alone, counted so an operator notices. */
  readonly unreadable: string[];
}

/** Validated once here; past this point the record is the poller's own type. */
export function parseFlowRecord(value: unknown): FlowRecord | undefined {
  const parsed = flowRecordSchema.safeParse(value);
  return parsed.success ? (parsed.data as unknown as FlowRecord) : undefined;
}

export async function listFlows(store: StateStore): Promise<FlowListing> {
  const items = await mapStateErrors(() => store.list(FLOW_PREFIX));
  const flows: StoredFlow[] = [];
  const unreadable: string[] = [];
  for (const item of items) {
    const record = parseFlowRecord(item.value);
    if (record) flows.push({ key: item.key, version: item.version, record });
    else unreadable.push(item.key);
  }
  return { flows, unreadable };
}

export async function readFlow(
  store: StateStore,
  key: string,
): Promise<StoredFlow | 'absent' | 'unreadable'> {
  const item = await mapStateErrors(() => store.get(key));
  if (!item) return 'absent';
  const record = parseFlowRecord(item.value);
  return record ? { key, version: item.version, record } : 'unreadable';
}

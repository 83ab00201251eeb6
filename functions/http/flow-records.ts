import { parseFlowRecordAt } from '../../shared/poller/record-schema';
import { FLOW_PREFIX, type FlowRecord } from '../../shared/poller/records';
import type { StateStore } from '../../shared/state';
import { mapStateErrors } from './state-store';

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

/**
 * Checked as hostile input, with the poller's own schema: a record another version wrote, or one
 * damaged in the store, must not break a listing. The stored value itself comes back, unknown
 * keys and key order included, so a record written back (redelivery) keeps its exact bytes.
 */
function parseFlowRecord(key: string, value: unknown): FlowRecord | undefined {
  const parsed = parseFlowRecordAt(key, value);
  return parsed.ok ? parsed.record : undefined;
}

export async function listFlows(store: StateStore): Promise<FlowListing> {
  const items = await mapStateErrors(() => store.list(FLOW_PREFIX));
  const flows: StoredFlow[] = [];
  const unreadable: string[] = [];
  for (const item of items) {
    const record = parseFlowRecord(item.key, item.value);
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
  const record = parseFlowRecord(item.key, item.value);
  return record ? { key, version: item.version, record } : 'unreadable';
}

import type { StoredAnswer } from '../read-model';
import type { FlowEvent } from '../webhook';
import type { DeliveryLease } from './delivery-lease';
import type { HistoryEntry } from './history';

/** One undelivered event and the endpoints still owed it. Kept with its flow for atomic writes. */
export interface OutboxEntry {
  readonly event: FlowEvent;
  /** Endpoint ids that have not acknowledged the event yet. */
  pendingEndpoints: string[];
  attempts: number;
  nextAttemptAt: number;
  readonly createdAt: number;
  lastReason?: string | undefined;
}

/**
 * Everything the poller knows about one flow, under one key, so a status change and the event
 * announcing it are written together by one compare-and-set.
 */
export interface FlowRecord {
  flowId: string;
  custSpaceId?: string | undefined;
  flowName: string;
  /** Last status seen; absent until the first successful check (the silent baseline). */
  status?: string | undefined;
  /** When `status` was first observed (ISO 8601). */
  statusSince?: string | undefined;
  /**
   * Epoch ms at which the GetFlow whose answer this record holds was sent. An answer to a call
   * sent no later than this is older than what the record knows, and is discarded.
   */
  observedAt?: number | undefined;
  lastCheckedAt?: number | undefined;
  /** The last GetFlow answer in full: the HTTP function serves watched flows from it. */
  lastRead?: StoredAnswer | undefined;
  failures: number;
  lastError?: string | undefined;
  /** Not checked before this time (failure backoff). */
  retryAt?: number | undefined;
  removed?: boolean | undefined;
  outbox: OutboxEntry[];
  deadLetters: OutboxEntry[];
  /** The last transitions, oldest first, with each endpoint's delivery outcome (absent in older records). */
  history?: HistoryEntry[] | undefined;
  /** The run sending the outbox right now (see delivery-lease.ts); absent when none is. */
  deliveryLease?: DeliveryLease | undefined;
}

export interface EndpointRecord {
  readonly gone: boolean;
  /** When it answered 410; '' while it is only paused (older versions then read the row as not gone). */
  readonly goneAt: string;
  /** The answer that set the row: 410, or the status that came with a Retry-After. */
  readonly httpStatus: number;
  /** A receiver's Retry-After (epoch ms): nothing is sent to the endpoint before it. */
  readonly pausedUntil?: number | undefined;
}

export interface DiscoveryRecord {
  /** When the last complete listing ended; an incomplete one leaves it as it was (still due). */
  readonly lastRunAt: number;
  /** The last list, plus what incomplete listings since found. */
  readonly flowIds: readonly string[];
  /** When a listing of the space last started: the space tried longest ago goes first. */
  readonly triedAt?: number | undefined;
  /** Where the next listing goes on from, after an incomplete one cut short by the run's share or end. */
  readonly nextPage?: number | undefined;
}

export const FLOW_PREFIX = 'flow/';
export const ENDPOINT_PREFIX = 'endpoint/';

export function flowKey(flowId: string, custSpaceId: string | undefined): string {
  return `${FLOW_PREFIX}${custSpaceId ?? '-'}/${flowId}`;
}

export function discoveryKey(custSpaceId: string): string {
  return `discovery/${custSpaceId}`;
}

export function newFlowRecord(flowId: string, custSpaceId: string | undefined, flowName = ''): FlowRecord {
  return { flowId, custSpaceId, flowName, failures: 0, outbox: [], deadLetters: [] };
}

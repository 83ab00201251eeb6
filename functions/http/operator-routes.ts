import { validateFlowId } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
// Direct imports, not the folder's index: it would pull the poller's configuration schema into this bundle.
import type { HistoryEntry } from '../../shared/poller/history';
import { goneEndpointIds, pausedEndpoints } from '../../shared/poller/record-schema';
import { ENDPOINT_PREFIX, type FlowRecord, flowKey, type OutboxEntry } from '../../shared/poller/records';
import { holdsEvent, requeueEvent } from '../../shared/poller/redelivery';
import type { StateStore } from '../../shared/state';
import { authoriseAdmin } from './auth';
import { type HttpConfig, requestedCustSpaceId } from './config';
import type { HttpRequest } from './fc-event';
import { listFlows, readFlow, type StoredFlow } from './flow-records';
import { HttpError } from './http-error';
import { jsonAnswer, type OperatorAnswer } from './json-answer';
import { decodeCursor, page, parseLimit } from './pagination';
import type { RouteName } from './routes';
import { mapStateErrors } from './state-store';

const OPERATOR_ROUTES: readonly RouteName[] = ['overview', 'history', 'deliveries', 'redeliver'];
const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const MAX_WRITE_ATTEMPTS = 5;
const NO_STORE = { 'cache-control': 'no-store' };

export interface OperatorRequest {
  readonly name: RouteName;
  readonly params: Readonly<Record<string, string>>;
  readonly request: HttpRequest;
  readonly config: HttpConfig;
  readonly requestId: string;
}

/** Total: a time no Date holds (the schema refuses those, but this answer must never throw) is null. */
const iso = (ms: number | undefined) => {
  const date = new Date(ms ?? Number.NaN);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
};
/** Newest first as an ascending sort key; an unparsable date sorts last. */
const newestFirst = (at: string | number) => -(typeof at === 'number' ? at : Date.parse(at) || 0);

function flowSummary(record: FlowRecord) {
  return {
    flowId: record.flowId,
    custSpaceId: record.custSpaceId ?? null,
    flowName: record.flowName,
    status: record.status ?? null,
    statusSince: record.statusSince ?? null,
    lastCheckedAt: iso(record.lastCheckedAt),
    lastError: record.lastError ?? null,
    removed: record.removed === true,
    pending: record.outbox.length,
    dead: record.deadLetters.length,
  };
}

/** Endpoints a receiver's Retry-After paused (`endpoint/<id>` rows): the poller sends them nothing before then. */
type Pauses = ReadonlyMap<string, number>;

/** The pauses, as answers show them; only those of `endpointIds` when given. */
function pauseList(pauses: Pauses, endpointIds?: readonly string[]) {
  return [...pauses]
    .filter(([endpointId]) => !endpointIds || endpointIds.includes(endpointId))
    .map(([endpointId, until]) => ({ endpointId, until: iso(until) }));
}

/** When the poller next sends the event to one of its endpoints: its backoff, or a pause that ends later. */
function nextAttemptOf(entry: OutboxEntry, pauses: Pauses): number {
  const times = entry.pendingEndpoints.map((endpointId) =>
    Math.max(entry.nextAttemptAt, pauses.get(endpointId) ?? 0),
  );
  return times.length > 0 ? Math.min(...times) : entry.nextAttemptAt;
}

function deliveryItem(flow: StoredFlow, entry: OutboxEntry, isDead: boolean, pauses: Pauses) {
  return {
    eventId: entry.event.id,
    flowId: flow.record.flowId,
    custSpaceId: flow.record.custSpaceId ?? null,
    flowName: flow.record.flowName,
    type: entry.event.type,
    attempts: entry.attempts,
    lastReason: entry.lastReason ?? null,
    nextAttemptAt: isDead ? null : iso(nextAttemptOf(entry, pauses)),
    createdAt: iso(entry.createdAt),
    endpoints: entry.pendingEndpoints,
  };
}

/**
 * The operator's view of what the poller did — overview, history, owed and dead deliveries —
 * and the one write, redelivery. All read the poller's state store, never CAMS.
 */
export function createOperatorRoutes(options: { clock: Clock; log: (line: string) => void }) {
  async function endpointPauses(store: StateStore): Promise<Pauses> {
    return pausedEndpoints(await mapStateErrors(() => store.list(ENDPOINT_PREFIX)), options.clock.now());
  }

  async function overview(store: StateStore): Promise<OperatorAnswer> {
    const { flows, unreadable } = await listFlows(store);
    const pauses = await endpointPauses(store);
    const summaries = flows.map((flow) => flowSummary(flow.record));
    return jsonAnswer(
      200,
      {
        generatedAt: new Date(options.clock.now()).toISOString(),
        totals: {
          flows: summaries.length,
          pending: summaries.reduce((sum, flow) => sum + flow.pending, 0),
          dead: summaries.reduce((sum, flow) => sum + flow.dead, 0),
          unreadable: unreadable.length,
        },
        pausedEndpoints: pauseList(pauses),
        flows: summaries,
      },
      NO_STORE,
    );
  }

  async function history(store: StateStore, call: OperatorRequest): Promise<OperatorAnswer> {
    const flowId = validateFlowId(call.params.flowId);
    const custSpaceId = requestedCustSpaceId(call.request.query, call.config);
    const limit = parseLimit(call.request.query.limit, 20, 50);
    const key = flowKey(flowId, custSpaceId);
    const scope = `history ${key}`;
    const after = decodeCursor(call.request.query.cursor, scope);
    const flow = await readFlow(store, key);
    if (flow === 'absent') {
      throw new HttpError(
        404,
        'FlowNotWatched',
        `the poller keeps no record of flow ${flowId}${custSpaceId ? ` in ${custSpaceId}` : ''}: it is not watched (WATCH_FLOWS, WATCH_CUST_SPACES) or not checked yet`,
      );
    }
    if (flow === 'unreadable') throw unreadableRecord(key);
    const positionOf = (entry: HistoryEntry) => [newestFirst(entry.observedAt), entry.eventId] as const;
    const served = page(flow.record.history ?? [], positionOf, { after, limit, scope });
    return jsonAnswer(
      200,
      {
        flowId,
        custSpaceId: custSpaceId ?? null,
        items: served.items.map((entry) => ({
          eventId: entry.eventId,
          type: entry.type,
          from: entry.from ?? null,
          to: entry.to,
          observedAt: entry.observedAt,
          deliveries: entry.deliveries.map((delivery) => ({
            endpointId: delivery.endpointId,
            state: delivery.state,
            attempts: delivery.attempts,
            lastReason: delivery.lastReason ?? null,
            updatedAt: delivery.updatedAt ?? null,
          })),
          redeliveredAt: entry.redeliveredAt ?? null,
        })),
        nextCursor: served.nextCursor,
      },
      NO_STORE,
    );
  }

  async function deliveries(store: StateStore, call: OperatorRequest): Promise<OperatorAnswer> {
    const state = call.request.query.state ?? 'pending';
    if (state !== 'pending' && state !== 'dead') {
      throw new HttpError(400, 'InvalidParameter', 'state must be pending or dead');
    }
    const limit = parseLimit(call.request.query.limit, 50, 100);
    const scope = `deliveries ${state}`;
    const after = decodeCursor(call.request.query.cursor, scope);
    const { flows } = await listFlows(store);
    const pauses: Pauses = state === 'dead' ? new Map() : await endpointPauses(store);
    const items = flows.flatMap((flow) =>
      (state === 'dead' ? flow.record.deadLetters : flow.record.outbox).map((entry) => ({
        position: [newestFirst(entry.createdAt), entry.event.id, flow.key] as const,
        item: deliveryItem(flow, entry, state === 'dead', pauses),
      })),
    );
    const served = page(items, (entry) => entry.position, { after, limit, scope });
    return jsonAnswer(
      200,
      { state, items: served.items.map((entry) => entry.item), nextCursor: served.nextCursor },
      NO_STORE,
    );
  }

  async function redeliver(store: StateStore, call: OperatorRequest): Promise<OperatorAnswer> {
    const { actor } = authoriseAdmin(call.config, call.request.headers.authorization);
    const eventId = call.params.eventId ?? '';
    if (!EVENT_ID.test(eventId)) {
      throw new HttpError(
        400,
        'InvalidParameter',
        'eventId must be evt_ followed by 32 lowercase hex digits',
      );
    }
    const { flows, unreadable } = await listFlows(store);
    let current: StoredFlow | 'absent' | 'unreadable' | undefined = flows.find((flow) =>
      holdsEvent(flow.record, eventId),
    );
    if (!current) {
      // The poller never delivers from an unreadable record, so the event cannot be requeued there.
      const unusable =
        unreadable.length > 0 ? `; ${unreadable.length} unreadable (GET /overview counts them)` : '';
      throw new HttpError(404, 'EventNotFound', `no readable flow record holds event ${eventId}${unusable}`);
    }
    const key = current.key;
    const endpointRows = await mapStateErrors(() => store.list(ENDPOINT_PREFIX));
    const goneEndpoints = goneEndpointIds(endpointRows);
    const pauses = pausedEndpoints(endpointRows, options.clock.now());
    // Compare-and-set: the poller may write the same record meanwhile; start again from its write.
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
      if (current === 'absent')
        throw new HttpError(404, 'EventNotFound', `no flow record holds event ${eventId}`);
      if (current === 'unreadable' || current === undefined) throw unreadableRecord(key);
      const record = structuredClone(current.record);
      const result = requeueEvent(record, eventId, options.clock.now(), goneEndpoints);
      const logged = {
        level: 'info',
        msg: 'event redelivery',
        requestId: call.requestId,
        actor,
        eventId,
        flowId: record.flowId,
        custSpaceId: record.custSpaceId ?? null,
      };
      if (result.kind === 'not-found')
        throw new HttpError(404, 'EventNotFound', `no flow record holds event ${eventId}`);
      if (result.kind === 'inconsistent') throw unreadableRecord(key);
      if (result.kind === 'all-gone') {
        throw new HttpError(
          409,
          'EndpointsGone',
          `every webhook endpoint of event ${eventId} answered 410 Gone (${result.endpointIds.join(', ')}): fix the receiver, delete its endpoint/<id> state row (or change WEBHOOK_URL), then ask again`,
        );
      }
      if (result.kind === 'no-endpoints') {
        throw new HttpError(
          409,
          'NoEndpoints',
          `event ${eventId} was owed to no webhook endpoint (WEBHOOK_URL was empty when it happened)`,
        );
      }
      if (result.kind === 'already-pending') {
        options.log(JSON.stringify({ ...logged, outcome: 'already-pending', endpoints: result.endpointIds }));
        return jsonAnswer(
          200,
          {
            eventId,
            flowId: record.flowId,
            state: 'pending',
            requeued: false,
            endpoints: result.endpointIds,
            pausedEndpoints: pauseList(pauses, result.endpointIds),
          },
          NO_STORE,
        );
      }
      const expectedVersion = current.version;
      const version = await mapStateErrors(() => store.put(key, record, expectedVersion));
      if (version !== undefined) {
        options.log(
          JSON.stringify({
            ...logged,
            outcome: 'requeued',
            source: result.source,
            endpoints: result.endpointIds,
          }),
        );
        return jsonAnswer(
          202,
          {
            eventId,
            flowId: record.flowId,
            state: 'pending',
            requeued: true,
            source: result.source,
            endpoints: result.endpointIds,
            pausedEndpoints: pauseList(pauses, result.endpointIds),
          },
          NO_STORE,
        );
      }
      current = await readFlow(store, key);
    }
    throw new HttpError(503, 'StateConflict', 'the flow record kept changing under this write; try again', {
      headers: { 'retry-after': '1' },
    });
  }

  return {
    isOperatorRoute: (name: RouteName) => OPERATOR_ROUTES.includes(name),
    async handle(call: OperatorRequest, store: StateStore): Promise<OperatorAnswer> {
      if (call.name === 'overview') return overview(store);
      if (call.name === 'history') return history(store, call);
      if (call.name === 'deliveries') return deliveries(store, call);
      return redeliver(store, call);
    },
  };
}

function unreadableRecord(key: string): HttpError {
  return new HttpError(
    500,
    'StateCorrupt',
    `the state record ${key} does not match the poller's schema; inspect it in the state store`,
  );
}

import {
  type CallBudget,
  type CamsClient,
  CamsError,
  type Credentials,
  type Flow,
  isThrottlingCode,
} from '../cams';
import type { Clock } from '../clock';
import type { StateStore } from '../state/types';
import type { FlowEvent, WebhookEndpoint } from '../webhook';
import type { PollerConfig } from './config';
import { removedEvent, statusChangedEvent } from './events';
import { applyAcknowledgements, type Deliver, deliverOutbox, enqueue } from './outbox';
import {
  type DiscoveryRecord,
  discoveryKey,
  ENDPOINT_PREFIX,
  type EndpointRecord,
  FLOW_PREFIX,
  type FlowRecord,
  flowKey,
  newFlowRecord,
} from './records';
import { dueOrder, failureBackoffMs, nextDueAt } from './schedule';
import { listCustSpaceFlows } from './watch-list';

export interface RunSummary {
  flowsChecked: number;
  changes: number;
  delivered: number;
  pending: number;
  failed: number;
  camsCalls: number;
  throttled: number;
  durationMs: number;
}

export type LogEntry = Record<string, unknown> & { level: 'info' | 'warn' | 'error'; msg: string };

export interface PollerDependencies {
  readonly cams: CamsClient;
  readonly store: StateStore;
  readonly deliver: Deliver;
  readonly endpoints: readonly WebhookEndpoint[];
  readonly clock: Clock;
  readonly random?: (() => number) | undefined;
  readonly log?: ((entry: LogEntry) => void) | undefined;
  /** The account-wide budget every CAMS attempt takes a slot from, beside the client's own limiter. */
  readonly budget?: CallBudget | undefined;
}

export interface RunOptions {
  readonly config: PollerConfig;
  readonly credentials: Credentials;
  /** Epoch ms by which the run must have returned (the function's timeout). */
  readonly deadlineMs: number;
}

const MAX_COMMIT_ATTEMPTS = 5;

/**
 * Time kept back before the deadline to save state and answer: a thirtieth of the run, 0.5–3 s
 * (2 s of a 60 s run). Every check is saved as it completes and CAMS calls end by the stop
 * time, so what is left after it is the last writes and deliveries the handler cuts off anyway;
 * a larger margin would leave budget unused between timer ticks.
 */
export function saveMarginMs(runMs: number): number {
  return Math.min(3000, Math.max(500, runMs / 30));
}

interface Held {
  record: FlowRecord;
  version: number;
}

const clone = (record: FlowRecord): FlowRecord => structuredClone(record);

/**
 * One poller run: discover, deliver what is owed, then check the most overdue flows at the
 * poller's share of the budget until nothing is due or the deadline margin is reached.
 */
export async function runPoller(dependencies: PollerDependencies, options: RunOptions): Promise<RunSummary> {
  const { cams, store, clock, config } = { ...dependencies, config: options.config };
  const random = dependencies.random ?? Math.random;
  const log = dependencies.log ?? ((entry: LogEntry) => console.log(JSON.stringify(entry)));
  const startedAt = clock.now();
  const stopAt = options.deadlineMs - saveMarginMs(options.deadlineMs - startedAt);
  const summary: RunSummary = {
    flowsChecked: 0,
    changes: 0,
    delivered: 0,
    pending: 0,
    failed: 0,
    camsCalls: 0,
    throttled: 0,
    durationMs: 0,
  };
  const callOptions = {
    credentials: options.credentials,
    deadlineMs: stopAt,
    budget: dependencies.budget,
    onAttempt: (attempt: { code: string }) => {
      summary.camsCalls += 1;
      if (isThrottlingCode(attempt.code)) summary.throttled += 1;
    },
  };
  const held = new Map<string, Held>();

  // Endpoints that answered 410 once stay silenced until their configuration changes.
  const endpoints = new Map(dependencies.endpoints.map((endpoint) => [endpoint.id, endpoint]));
  for (const item of await store.list<EndpointRecord>(ENDPOINT_PREFIX)) {
    if (item.value.gone) endpoints.delete(item.key.slice(ENDPOINT_PREFIX.length));
  }

  for (const item of await store.list<FlowRecord>(FLOW_PREFIX)) {
    held.set(item.key, { record: item.value, version: item.version });
  }

  async function commit(key: string, mutate: (record: FlowRecord) => void): Promise<FlowRecord | undefined> {
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
      const current = held.get(key);
      if (!current) return undefined;
      const next = clone(current.record);
      mutate(next);
      const version = await store.put(key, next, current.version);
      if (version !== undefined) {
        held.set(key, { record: next, version });
        return next;
      }
      // Another run wrote first: start again from what it wrote.
      const fresh = await store.get<FlowRecord>(key);
      if (fresh) held.set(key, { record: fresh.value, version: fresh.version });
      else held.delete(key);
    }
    log({ level: 'warn', msg: 'state write kept conflicting; will retry next run', key });
    return undefined;
  }

  function ensureRecord(flowId: string, custSpaceId: string | undefined, flowName = ''): string {
    const key = flowKey(flowId, custSpaceId);
    if (!held.has(key)) held.set(key, { record: newFlowRecord(flowId, custSpaceId, flowName), version: 0 });
    return key;
  }

  function markRemoved(record: FlowRecord, now: number): FlowEvent | undefined {
    record.lastCheckedAt = now;
    if (record.removed) return undefined;
    record.removed = true;
    const event = removedEvent(record, new Date(now).toISOString());
    enqueue(record, event, [...endpoints.keys()], now);
    return event;
  }

  function announce(event: FlowEvent): void {
    summary.changes += 1;
    log({
      level: 'info',
      msg: event.type === 'flow.removed' ? 'flow removed' : 'flow status changed',
      eventId: event.id,
      flowId: event.data.flowId,
      custSpaceId: event.data.custSpaceId ?? null,
      previousStatus: event.data.previousStatus ?? null,
      status: event.data.status ?? null,
    });
  }

  // Discovery: ListFlow has no status, so it only finds flows to watch and flows that vanished.
  const watched = new Set(config.watchFlows.map((flow) => ensureRecord(flow.flowId, flow.custSpaceId)));
  for (const custSpaceId of config.watchCustSpaces) {
    const stored = await store.get<DiscoveryRecord>(discoveryKey(custSpaceId));
    let flowIds = stored?.value.flowIds ?? [];
    const isDue = !stored || clock.now() - stored.value.lastRunAt >= config.discoveryIntervalS * 1000;
    if (isDue && clock.now() < stopAt) {
      try {
        const found = await listCustSpaceFlows(cams, custSpaceId, callOptions);
        const now = clock.now();
        const current = new Set(found.map((flow) => flow.flowId));
        for (const vanished of flowIds.filter((flowId) => !current.has(flowId))) {
          const key = flowKey(vanished, custSpaceId);
          if (!held.has(key)) continue;
          let event: FlowEvent | undefined;
          const saved = await commit(key, (record) => {
            event = markRemoved(record, now);
          });
          if (saved && event) announce(event);
        }
        for (const flow of found) ensureRecord(flow.flowId, custSpaceId, flow.flowName);
        flowIds = [...current];
        await store.put(discoveryKey(custSpaceId), { lastRunAt: now, flowIds }, stored?.version ?? 0);
      } catch (error) {
        log({
          level: 'warn',
          msg: 'flow discovery failed; using the last list',
          custSpaceId,
          error: describe(error),
        });
      }
    }
    for (const flowId of flowIds) watched.add(ensureRecord(flowId, custSpaceId));
  }

  async function deliverFor(key: string): Promise<void> {
    const current = held.get(key);
    if (!current || current.record.outbox.length === 0 || endpoints.size === 0) return;
    const snapshot = clone(current.record);
    const report = await deliverOutbox({
      record: snapshot,
      endpoints,
      deliver: dependencies.deliver,
      now: () => clock.now(),
      random,
      maxAgeMs: config.webhookMaxAgeMs,
      shouldStop: () => clock.now() >= stopAt,
    });
    summary.delivered += report.delivered;
    for (const failure of report.failed) {
      log({ level: 'warn', msg: 'webhook delivery failed; retried later with the same id', ...failure });
    }
    for (const endpointId of report.gone) {
      endpoints.delete(endpointId);
      log({
        level: 'error',
        msg: 'webhook endpoint answered 410 Gone: no more deliveries to it',
        endpointId,
      });
      const record: EndpointRecord = {
        gone: true,
        goneAt: new Date(clock.now()).toISOString(),
        httpStatus: 410,
      };
      await store.put(`${ENDPOINT_PREFIX}${endpointId}`, record, 0).catch(() => undefined);
    }
    for (const dead of report.deadLettered) {
      log({
        level: 'error',
        msg: 'webhook event undelivered past WEBHOOK_MAX_AGE_HOURS; kept as a dead letter',
        eventId: dead.event.id,
        flowId: dead.event.data.flowId,
        endpoints: dead.pendingEndpoints,
        lastReason: dead.lastReason ?? null,
      });
    }
    const version = await store.put(key, snapshot, current.version);
    if (version !== undefined) {
      held.set(key, { record: snapshot, version });
      return;
    }
    await commit(key, (record) => applyAcknowledgements(record, report.acknowledged));
  }

  async function check(key: string): Promise<'continue' | 'stop'> {
    const current = held.get(key);
    if (!current) return 'continue';
    const { flowId, custSpaceId } = current.record;
    let flow: Flow;
    try {
      flow = await cams.getFlow({ flowId, custSpaceId }, callOptions);
    } catch (error) {
      const now = clock.now();
      if (error instanceof CamsError && error.code === 'DeadlineExceeded') return 'stop';
      if (error instanceof CamsError && error.code === 'Unknown.ResourceOwnerId') {
        summary.flowsChecked += 1;
        let event: FlowEvent | undefined;
        const saved = await commit(key, (record) => {
          event = markRemoved(record, now);
        });
        if (saved && event) announce(event);
        await deliverFor(key);
        return 'continue';
      }
      summary.failed += 1;
      const code =
        error instanceof CamsError || (error instanceof Error && 'code' in error)
          ? String((error as { code: unknown }).code)
          : 'Error';
      log({
        level: 'warn',
        msg: 'flow check failed; backing off',
        flowId,
        custSpaceId: custSpaceId ?? null,
        code,
        error: describe(error),
      });
      await commit(key, (record) => {
        record.failures += 1;
        record.lastError = code;
        record.retryAt = now + failureBackoffMs(record.failures, random);
      });
      return 'continue';
    }
    summary.flowsChecked += 1;
    const now = clock.now();
    let event: FlowEvent | undefined;
    const saved = await commit(key, (record) => {
      event = undefined;
      record.lastCheckedAt = now;
      record.lastRead = { flow, readAt: now };
      record.failures = 0;
      record.lastError = undefined;
      record.retryAt = undefined;
      record.flowName = flow.flowName || record.flowName;
      const observedAt = new Date(now).toISOString();
      if (record.status === undefined || record.removed) {
        // First sight (or back after removal): a silent baseline.
        record.removed = undefined;
        record.status = flow.status;
        record.statusSince = observedAt;
        return;
      }
      if (record.status === flow.status) return;
      event = statusChangedEvent(record, flow.status, observedAt);
      enqueue(record, event, [...endpoints.keys()], now);
      record.status = flow.status;
      record.statusSince = observedAt;
    });
    if (saved && event) announce(event);
    await deliverFor(key);
    return 'continue';
  }

  // Deliveries owed from earlier runs go first: they cost no CAMS budget.
  for (const key of [...held.keys()]) {
    if (clock.now() >= stopAt) break;
    try {
      await deliverFor(key);
    } catch (error) {
      summary.failed += 1;
      log({
        level: 'error',
        msg: 'delivering owed events failed; retried next run',
        key,
        error: describe(error),
      });
    }
  }

  const inProgress = new Set<string>();
  let stopped = false;
  const candidates = () =>
    [...watched]
      .filter((key) => !inProgress.has(key))
      .map((key) => ({ key, record: held.get(key)?.record }))
      .filter((entry): entry is { key: string; record: FlowRecord } => entry.record !== undefined);
  const nextDue = (): string | undefined => dueOrder(candidates(), clock.now(), config.intervalsS)[0]?.key;
  const earliestDueAt = (): number =>
    Math.min(...candidates().map(({ record }) => nextDueAt(record, config.intervalsS)));
  // Enough workers to keep the limiter's slots filled while some wait on CAMS or a webhook.
  const workers = Math.min(32, Math.max(2, Math.ceil(config.pollQps * 2)));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stopped && clock.now() < stopAt) {
        const key = nextDue();
        if (!key) {
          // Intervals shorter than the timer (THROTTLED every 30 s under a 1-minute trigger) are
          // kept by waiting inside the run for what comes due before the save margin.
          const waitMs = earliestDueAt() - clock.now();
          if (!(waitMs < stopAt - clock.now())) return;
          await clock.sleep(Math.max(1, waitMs));
          continue;
        }
        inProgress.add(key);
        try {
          if ((await check(key)) === 'stop') stopped = true;
        } catch (error) {
          summary.failed += 1;
          log({ level: 'error', msg: 'flow check crashed', key, error: describe(error) });
        } finally {
          inProgress.delete(key);
        }
      }
    }),
  );

  for (const { record } of held.values()) summary.pending += record.outbox.length;
  summary.durationMs = clock.now() - startedAt;
  return summary;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

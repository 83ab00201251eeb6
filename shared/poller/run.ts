import { randomUUID } from 'node:crypto';
import {
  type CallBudget,
  type CamsClient,
  CamsError,
  type Credentials,
  type Flow,
  isThrottlingCode,
} from '../cams';
import { type Clock, within } from '../clock';
import type { StateStore } from '../state/types';
import type { DeliveryOutcome, FlowEvent, WebhookEndpoint } from '../webhook';
import { type CheckVerdict, isAccountCondition, OUTAGE_AFTER_FAILURES, OutageGate } from './account-outage';
import type { PollerConfig } from './config';
import { DeliveryLane } from './delivery-lane';
import { needsRenewal, releaseLease, renewLease, takeLease } from './delivery-lease';
import { EndpointHealth, type FirstContactClaim } from './endpoint-health';
import { markEndpointGone, pauseEndpoint } from './endpoint-record';
import { removedEvent, statusChangedEvent } from './events';
import { applyDeliveryNotes, recordTransition } from './history';
import {
  applyAcknowledgements,
  applyCharges,
  applyDeadLetters,
  type Deliver,
  deliverOutbox,
  deliveryWork,
  enqueue,
} from './outbox';
import {
  discoveryRecordSchema,
  flowRecordSchema,
  goneEndpointIds,
  parseFlowRecordAt,
  parseStored,
  pausedEndpoints,
} from './record-schema';
import { boundFlowRecord, MAX_FLOW_RECORD_BYTES, type RecordTrim } from './record-size';
import {
  type DiscoveryRecord,
  discoveryKey,
  ENDPOINT_PREFIX,
  FLOW_PREFIX,
  type FlowRecord,
  flowKey,
  newFlowRecord,
} from './records';
import { RepeatedLog } from './repeated-log';
import { rerouteOwedEvents } from './reroute';
import {
  accountFailureBackoffMs,
  believable,
  type ContestedPicks,
  dueOrder,
  failureBackoffMs,
  intervalMsFor,
  nextDueAt,
  pickNext,
} from './schedule';
import { WakeSignal } from './wake-signal';
import { type Discovered, isValidFlowId, listCustSpaceFlows } from './watch-list';

export interface RunSummary {
  flowsChecked: number;
  changes: number;
  delivered: number;
  pending: number;
  failed: number;
  /** Undelivered events (owed or dead letters) dropped to keep a flow record storable; each is logged. */
  dropped: number;
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
  /** Names this run as a delivery lease's holder; a fresh random id when absent. */
  readonly runId?: string | undefined;
}

export interface RunOptions {
  readonly config: PollerConfig;
  readonly credentials: Credentials;
  /** Epoch ms by which the run must have returned (the function's timeout). */
  readonly deadlineMs: number;
}

const MAX_COMMIT_ATTEMPTS = 5;
/** Flows delivering at once beside the checks; one attempt per endpoint until it has answered. */
const DELIVERY_CONCURRENCY = 4;
/** Discovery may spend at most this share of a run's CAMS calls; the rest is for status checks. */
const DISCOVERY_SHARE = 0.25;

/**
 * Time kept back before the deadline to save state and answer: a thirtieth of the run, 0.5–3 s
 * (2 s of a 60 s run). Every check is saved as it completes and CAMS calls end by the stop
 * time, so what is left after it is the last writes and deliveries the handler cuts off anyway;
 * a larger margin would leave budget unused between timer ticks.
 */
export function saveMarginMs(runMs: number): number {
  return Math.min(3000, Math.max(500, runMs / 30));
}

/** A cust space whose discovery is due this run, with what its stored record says. */
interface DueListing {
  readonly custSpaceId: string;
  /** The last list (usable ids only): watched from the run's start, whatever the listing does. */
  readonly flowIds: readonly string[];
  /** When its last complete listing ran; undefined when never (or not believably). */
  readonly lastRunAt: number | undefined;
  /** When a listing of it last started (undefined: never, or not believably). */
  readonly triedAt: number | undefined;
  /** Where an earlier listing cut short stopped; undefined to start at page 1. */
  readonly nextPage: number | undefined;
  readonly version: number;
}

interface Held {
  record: FlowRecord;
  version: number;
}

const clone = (record: FlowRecord): FlowRecord => structuredClone(record);

/**
 * One poller run: check the most overdue flows at the poller's share of the budget until nothing
 * is due or the deadline margin is reached, while due discoveries list their cust spaces beside
 * them (within DISCOVERY_SHARE of the calls) and add what they find. Webhook deliveries (owed
 * from earlier runs, and each change as it is found) run beside discovery and the checks and are
 * cut off at the same margin, so they never hold a check back nor eat the time to save.
 */
export async function runPoller(dependencies: PollerDependencies, options: RunOptions): Promise<RunSummary> {
  const { cams, store, clock, config } = { ...dependencies, config: options.config };
  const random = dependencies.random ?? Math.random;
  const runId = dependencies.runId ?? randomUUID();
  const log = dependencies.log ?? ((entry: LogEntry) => console.log(JSON.stringify(entry)));
  const startedAt = clock.now();
  const stopAt = options.deadlineMs - saveMarginMs(options.deadlineMs - startedAt);
  const summary: RunSummary = {
    flowsChecked: 0,
    changes: 0,
    delivered: 0,
    pending: 0,
    failed: 0,
    dropped: 0,
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
  const repeated = new RepeatedLog();
  const health = new EndpointHealth(() => clock.now());
  /**
   * One attempt, abandoned at the save margin if still in flight (its event stays owed), so the
   * last writes fit before the deadline whatever the receiver does. The race is timed here as
   * well as signalled, so a deliver that ignores its signal cannot hold the run either.
   */
  async function attemptBeforeStop(
    event: FlowEvent,
    endpoint: WebhookEndpoint,
  ): Promise<DeliveryOutcome | 'skipped'> {
    // It may have waited for another flow's attempt to this endpoint: nothing starts past the end.
    if (clock.now() >= stopAt) return 'skipped';
    const giveUp = new AbortController();
    const outcome = await within(
      clock,
      stopAt - clock.now(),
      dependencies.deliver(event, endpoint, { signal: giveUp.signal }),
    );
    if (outcome) return outcome;
    giveUp.abort();
    return { kind: 'retry', reason: 'abandoned at the end of the run', isAbandoned: true };
  }
  /** Keys whose stored record cannot be used: logged, left in place, never overwritten. */
  const quarantined = new Set<string>();
  /**
   * Backoffs held in memory, so a flow whose backoff could not be saved is not retried hot: when
   * it may be retried, and whether a failure of CAMS or the account earned it. Such a backoff is
   * no longer than the flow's interval (saved, so a flow CAMS keeps failing alone is not retried
   * at every run's start) and becomes 'dropped' when CAMS answers again after failed probes: it
   * said nothing of the flow, which is checked again at once, its saved backoff ignored for the
   * rest of the run. A later backoff of the flow replaces either.
   */
  const backoffs = new Map<string, { retryAt: number; isAccountWide: boolean } | 'dropped'>();

  function quarantine(key: string, problem: string): void {
    quarantined.add(key);
    held.delete(key);
    log({
      level: 'error',
      msg: 'stored record is unusable; left in place and skipped (fix or delete it)',
      key,
      problem: problem.slice(0, 500),
    });
  }

  // Endpoints that answered 410 once stay silenced until their configuration changes.
  const configured = new Set(dependencies.endpoints.map((endpoint) => endpoint.id));
  const endpoints = new Map(dependencies.endpoints.map((endpoint) => [endpoint.id, endpoint]));
  const endpointRows = await store.list(ENDPOINT_PREFIX);
  const gone = goneEndpointIds(endpointRows, (key) =>
    log({ level: 'error', msg: 'stored endpoint record is unusable; ignored', key }),
  );
  for (const endpointId of gone) endpoints.delete(endpointId);
  // A Retry-After an earlier run was given still holds in this one.
  for (const [endpointId, until] of pausedEndpoints(endpointRows, clock.now()))
    health.pause(endpointId, until);

  for (const item of await store.list<FlowRecord>(FLOW_PREFIX)) {
    if (item.unreadable) {
      quarantine(item.key, item.unreadable);
      continue;
    }
    const parsed = parseFlowRecordAt(item.key, item.value);
    if (!parsed.ok) quarantine(item.key, parsed.problem);
    else held.set(item.key, { record: parsed.record, version: item.version });
  }

  /** Logs what was cut from a flow record to keep it storable, each undelivered event by its id. */
  function noteTrim(key: string, trim: RecordTrim | undefined): void {
    if (!trim) return;
    const undelivered = [...trim.deadLetters, ...trim.owedEvents];
    summary.dropped += undelivered.length;
    log({
      level: undelivered.length > 0 ? 'error' : 'warn',
      msg: `flow record above ${MAX_FLOW_RECORD_BYTES} bytes of JSON: oldest parts dropped so it can still be saved`,
      key,
      bytes: trim.bytes,
      history: trim.history,
      reasons: trim.reasons,
      deadLetters: trim.deadLetters.length,
      owedEvents: trim.owedEvents.length,
    });
    for (const entry of undelivered) {
      log({
        level: 'error',
        msg: 'webhook event dropped undelivered: its flow record was too large to keep it',
        eventId: entry.event.id,
        flowId: entry.event.data.flowId,
        wasOwed: trim.owedEvents.includes(entry),
        endpoints: entry.pendingEndpoints,
      });
    }
  }

  /**
   * Writes `record` by compare-and-set against `version`, first bounded to what the store takes;
   * on success it is the held record, and what was cut is logged. Undefined when another wrote first.
   */
  async function putBounded(key: string, record: FlowRecord, version: number): Promise<number | undefined> {
    const trim = boundFlowRecord(record);
    const written = await store.put(key, record, version);
    if (written === undefined) return undefined;
    held.set(key, { record, version: written });
    noteTrim(key, trim);
    return written;
  }

  /**
   * Applies `mutate` to the latest record and writes it with compare-and-set, re-reading and
   * re-applying on conflict. `mutate` returns false to leave the record as it is.
   */
  async function commit(
    key: string,
    mutate: (record: FlowRecord) => boolean | undefined,
  ): Promise<FlowRecord | undefined> {
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
      const current = held.get(key);
      if (!current || quarantined.has(key)) return undefined;
      const next = clone(current.record);
      if (mutate(next) === false) return undefined;
      if ((await putBounded(key, next, current.version)) !== undefined) return next;
      // Another run wrote first: start again from what it wrote.
      const fresh = await store.get<FlowRecord>(key);
      if (!fresh) {
        held.delete(key);
        continue;
      }
      const parsed = parseStored<FlowRecord>(flowRecordSchema(), fresh.value);
      if (!parsed.ok) {
        quarantine(key, parsed.problem);
        return undefined;
      }
      held.set(key, { record: parsed.record, version: fresh.version });
    }
    repeated.note('conflict', {
      level: 'warn',
      msg: 'state write kept conflicting; will retry next run',
      key,
    });
    return undefined;
  }

  function ensureRecord(flowId: string, custSpaceId: string | undefined, flowName = ''): string {
    const key = flowKey(flowId, custSpaceId);
    if (!held.has(key) && !quarantined.has(key))
      held.set(key, { record: newFlowRecord(flowId, custSpaceId, flowName), version: 0 });
    return key;
  }

  function markRemoved(record: FlowRecord, now: number, sentAt: number): FlowEvent | undefined {
    record.lastCheckedAt = now;
    record.observedAt = sentAt;
    if (record.removed) return undefined;
    const observedAt = new Date(now).toISOString();
    const event = removedEvent(record, observedAt);
    record.removed = true;
    // The removal is the state now: a later return or removal is a new change with its own id.
    record.statusSince = observedAt;
    enqueue(record, event, [...endpoints.keys()], now);
    recordTransition(record, event, [...endpoints.keys()]);
    return event;
  }

  /** True when another run recorded an observation at least as recent as a call sent at `sentAt`. */
  function isStale(record: FlowRecord, sentAt: number): boolean {
    return record.observedAt !== undefined && record.observedAt >= sentAt;
  }

  function noteStale(key: string): void {
    repeated.note('stale', {
      level: 'info',
      msg: 'answer discarded: another run recorded a newer observation while it was in flight',
      key,
    });
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

  // Discovery: ListFlow has no status, so it only finds flows to watch. A flow missing from a
  // listing is not taken for removed (an empty or partial page proves nothing): its own GetFlow
  // answering Unknown.ResourceOwnerId is what confirms a removal. The last lists are watched at
  // once; due listings run beside the checks and deliveries (see discover), never before them.
  const watched = new Set(config.watchFlows.map((flow) => ensureRecord(flow.flowId, flow.custSpaceId)));
  function watch(flowId: string, custSpaceId: string, flowName?: string): void {
    const key = ensureRecord(flowId, custSpaceId, flowName);
    if (!quarantined.has(key)) watched.add(key);
  }
  const dueListings: DueListing[] = [];
  for (const custSpaceId of config.watchCustSpaces) {
    const stored = await store.get<DiscoveryRecord>(discoveryKey(custSpaceId)).catch((error: unknown) => {
      log({
        level: 'error',
        msg: 'stored discovery record is unreadable',
        custSpaceId,
        error: describe(error),
      });
      return undefined;
    });
    const parsedList = stored
      ? parseStored<DiscoveryRecord>(discoveryRecordSchema(), stored.value)
      : undefined;
    if (parsedList && !parsedList.ok) {
      log({
        level: 'error',
        msg: 'stored discovery record is unusable; listing again',
        key: discoveryKey(custSpaceId),
        problem: parsedList.problem,
      });
    }
    const previous = parsedList?.ok ? parsedList.record : undefined;
    const flowIds = (previous?.flowIds ?? []).filter((flowId) => isValidFlowId(flowId));
    // Stamped more than a day ahead (a host with a wrong date, a hand edit): due, or the space would
    // not be listed again until then.
    const lastRunAt = previous && believable(previous.lastRunAt, clock.now());
    if (previous && lastRunAt === undefined) {
      log({
        level: 'warn',
        msg: 'stored discovery record is dated more than a day ahead; listing again',
        key: discoveryKey(custSpaceId),
        lastRunAt: previous.lastRunAt,
      });
    }
    for (const flowId of flowIds) watch(flowId, custSpaceId);
    const isDue = lastRunAt === undefined || clock.now() - lastRunAt >= config.discoveryIntervalS * 1000;
    if (isDue) {
      dueListings.push({
        custSpaceId,
        flowIds,
        lastRunAt,
        triedAt:
          typeof previous?.triedAt === 'number' ? believable(previous.triedAt, clock.now()) : undefined,
        nextPage: typeof previous?.nextPage === 'number' ? previous.nextPage : undefined,
        version: stored?.version ?? 0,
      });
    }
  }
  for (const key of quarantined) watched.delete(key);
  // The space tried longest ago (or never) goes first, so one too large for a run's share cannot
  // take every run's share from the spaces listed after it (ties keep WATCH_CUST_SPACES order).
  dueListings.sort((one, other) => (one.triedAt ?? 0) - (other.triedAt ?? 0));

  const runCalls = Math.max(1, Math.floor((config.pollQps * Math.max(0, stopAt - startedAt)) / 1000));
  const discoveryShare = Math.max(1, Math.floor(runCalls * DISCOVERY_SHARE));
  let discoveryCalls = 0;
  const discoveryCallOptions = {
    ...callOptions,
    onAttempt: (attempt: { code: string }) => {
      discoveryCalls += 1;
      callOptions.onAttempt(attempt);
    },
  };
  /** Wakes check workers waiting for work when discovery finds flows, or ends. */
  const discoveryNews = new WakeSignal(clock);

  /**
   * The due listings, one page at a time through the same limiter and budget as the checks, at
   * most DISCOVERY_SHARE of the run's calls. Each page's flows are watched as it arrives, so they
   * may be checked in this run; a listing cut short (the run's end, the share, a failing page)
   * keeps what it found, and is saved as still due.
   */
  let lastTriedAt = 0;
  async function discover(): Promise<void> {
    for (const listing of dueListings) {
      if (clock.now() >= stopAt || discoveryCalls >= discoveryShare) return;
      await discoverSpace(listing);
    }
  }

  async function discoverSpace(listing: DueListing): Promise<void> {
    const { custSpaceId, flowIds, lastRunAt, nextPage } = listing;
    // Strictly later than the listing before it in this run, so the order holds at equal times.
    const triedAt = Math.max(clock.now(), lastTriedAt + 1);
    lastTriedAt = triedAt;
    let found: Discovered;
    try {
      found = await listCustSpaceFlows(cams, custSpaceId, discoveryCallOptions, {
        firstPage: nextPage,
        callsLeft: () => discoveryShare - discoveryCalls,
        onPage: (flows) => {
          for (const flow of flows) watch(flow.flowId, custSpaceId, flow.flowName);
          discoveryNews.tell();
        },
      });
    } catch (error) {
      log({
        level: 'warn',
        msg: 'flow discovery failed; using the last list',
        custSpaceId,
        error: describe(error),
      });
      // A page that keeps failing must not hold the listing there: the next one starts at page 1.
      if (nextPage !== undefined) await saveListing(listing, { lastRunAt: lastRunAt ?? 0, flowIds, triedAt });
      return;
    }
    const now = clock.now();
    if (found.invalidIds > 0) {
      log({
        level: 'warn',
        msg: 'ListFlow sent flow ids no GetFlow accepts; ignored',
        custSpaceId,
        count: found.invalidIds,
      });
    }
    if (!found.complete) {
      log({
        level: 'warn',
        msg: `flow discovery stopped early: ${found.stoppedBecause}`,
        custSpaceId,
        found: found.flows.length,
        ...(found.nextPage === undefined ? {} : { nextPage: found.nextPage }),
        ...(found.error === undefined ? {} : { error: describe(found.error) }),
      });
    }
    const current = new Set(found.flows.map((flow) => flow.flowId));
    const missing = flowIds.filter((flowId) => !current.has(flowId));
    // Only a listing from page 1 to its end says what the space holds now.
    const isWhole = found.complete && (nextPage ?? 1) === 1;
    if (isWhole && current.size === 0 && flowIds.length > 0) {
      log({
        level: 'warn',
        msg: 'ListFlow listed no flows for a space that had some; not taken as removals',
        custSpaceId,
        previously: flowIds.length,
      });
    } else if (isWhole && missing.length > 0) {
      log({
        level: 'info',
        msg: 'flows missing from ListFlow; their GetFlow decides',
        custSpaceId,
        count: missing.length,
      });
    }
    // Keep the missing ones until their own check confirms the removal.
    const kept = missing.filter((flowId) => held.get(flowKey(flowId, custSpaceId))?.record.removed !== true);
    // An incomplete listing adds what it found and keeps its space due (its date stays as it
    // was); cut short for want of calls or time, the next one goes on from where it stopped.
    const saved: DiscoveryRecord = {
      lastRunAt: found.complete ? now : (lastRunAt ?? 0),
      flowIds: [...current, ...kept],
      triedAt,
      ...(found.nextPage === undefined ? {} : { nextPage: found.nextPage }),
    };
    await saveListing(listing, saved);
  }

  async function saveListing({ custSpaceId, version }: DueListing, record: DiscoveryRecord): Promise<void> {
    await store.put(discoveryKey(custSpaceId), record, version).catch((error: unknown) => {
      log({
        level: 'warn',
        msg: 'discovery record not saved; listed again next run',
        custSpaceId,
        error: describe(error),
      });
    });
  }

  function reroute(record: FlowRecord): number {
    return rerouteOwedEvents(record, configured, [...endpoints.keys()], clock.now());
  }

  /**
   * Takes the flow's delivery lease (a compare-and-set of its record, which also proves the
   * outbox this pass sends from is the latest), or undefined when another run holds it: that
   * run sends these events, and this one must not send them too.
   */
  async function takeDeliveryLease(key: string): Promise<Held | undefined> {
    let isHeldElsewhere = false;
    const taken = await commit(key, (record) => {
      isHeldElsewhere = !takeLease(record, runId, clock.now());
      return isHeldElsewhere ? false : undefined;
    });
    if (isHeldElsewhere) {
      repeated.note('leased', {
        level: 'info',
        msg: "another run is delivering this flow's events; left to it (taken over once its lease ends)",
        key,
      });
    }
    const current = held.get(key);
    return taken && current ? { record: clone(taken), version: current.version } : undefined;
  }

  /** Flows whose delivery pass did not save its outcomes (the write failed): not delivered again in this run. */
  const unsaved = new Set<string>();

  /**
   * A delivery pass over one flow's owed events. The lease is taken only when an attempt may
   * happen: a flow whose due events are all owed to endpoints found unreachable this run or paused
   * by a Retry-After (or waiting out a backoff) costs no write, and one owed only to endpoints
   * another pass is making first contact with waits for that outcome first.
   */
  async function deliverFor(key: string): Promise<void> {
    for (;;) {
      const current = held.get(key);
      if (!current || current.record.outbox.length === 0 || endpoints.size === 0) return;
      if (clock.now() >= stopAt || unsaved.has(key)) return;
      const preview = clone(current.record);
      reroute(preview);
      const work = deliveryWork(preview, endpoints, clock.now(), config.webhookMaxAgeMs);
      const reachable = [...work.endpointIds].filter((endpointId) => !health.isHeldBack(endpointId));
      if (reachable.length === 0 && !work.hasUpkeep) return;
      const underway = work.hasUpkeep ? undefined : health.firstContactUnderway(reachable);
      if (underway) {
        await underway;
        continue;
      }
      const claim = health.claimFirstContact(reachable);
      try {
        await deliverLeased(key, claim);
      } finally {
        claim.end();
      }
      return;
    }
  }

  async function deliverLeased(key: string, claim: FirstContactClaim): Promise<void> {
    const taken = await takeDeliveryLease(key);
    if (!taken) return;
    const snapshot = taken.record;
    let leaseUntil = snapshot.deliveryLease?.until ?? 0;
    let isLeaseRenewed = false;
    let isLeaseLost = false;
    /**
     * Before each attempt: the lease must outlast it, or nothing more is sent. A renewal that
     * fails (taken over, writes conflicting, the store erring) stops this pass's sending, and its
     * outcomes are still saved below, which also gives the lease back: a throw from here would
     * lose what it had acknowledged, and a later pass of this run would send those events again.
     */
    async function keepLease(): Promise<boolean> {
      if (isLeaseLost) return false;
      if (!needsRenewal(leaseUntil, clock.now())) return true;
      let isTakenOver = false;
      let renewed: FlowRecord | undefined;
      let storeError: unknown;
      try {
        renewed = await commit(key, (record) => {
          isTakenOver = !renewLease(record, runId, clock.now());
          return isTakenOver ? false : undefined;
        });
      } catch (error) {
        storeError = error;
      }
      if (renewed?.deliveryLease) {
        isLeaseRenewed = true;
        leaseUntil = renewed.deliveryLease.until;
        return true;
      }
      isLeaseLost = true;
      const stops = "this run stops sending the flow's events, which stay owed";
      if (isTakenOver) {
        log({
          level: 'warn',
          msg: `delivery lease taken over by another run; ${stops}`,
          key,
          reason: 'taken-over',
        });
      } else if (storeError !== undefined) {
        log({
          level: 'warn',
          msg: `delivery lease not renewed: the state store failed; ${stops}`,
          key,
          reason: 'store-error',
          error: describe(storeError),
        });
      } else {
        log({
          level: 'warn',
          msg: `delivery lease not renewed: its record kept changing under other writes or became unusable; ${stops}`,
          key,
          reason: 'not-written',
        });
      }
      return false;
    }
    const moved = reroute(snapshot);
    if (moved > 0) {
      repeated.note('rerouted', {
        level: 'warn',
        msg: 'events owed to webhook endpoints no longer in WEBHOOK_URL go to the configured ones, same ids',
        key,
        events: moved,
      });
    }
    const report = await deliverOutbox({
      record: snapshot,
      endpoints,
      deliver: (event, endpoint) => {
        claim.attempting(endpoint.id);
        return health.attempt(endpoint.id, async () =>
          (await keepLease()) ? attemptBeforeStop(event, endpoint) : 'skipped',
        );
      },
      now: () => clock.now(),
      random,
      maxAgeMs: config.webhookMaxAgeMs,
      shouldStop: () => clock.now() >= stopAt,
    });
    summary.delivered += report.delivered;
    for (const failure of report.failed) {
      repeated.note(`delivery ${failure.endpointId} ${failure.reason}`, {
        level: 'warn',
        msg: 'webhook delivery failed; retried later with the same id',
        ...failure,
      });
    }
    for (const endpointId of report.gone) {
      endpoints.delete(endpointId);
      log({
        level: 'error',
        msg: 'webhook endpoint answered 410 Gone: no more deliveries to it',
        endpointId,
      });
      await markEndpointGone(store, endpointId, clock.now()).catch(() => undefined);
    }
    for (const pause of health.takeNewPauses()) {
      log({
        level: 'warn',
        msg: "webhook endpoint asked to wait (Retry-After): nothing is sent to it until then; every flow's events stay owed",
        endpointId: pause.endpointId,
        httpStatus: pause.httpStatus,
        pausedUntil: new Date(pause.until).toISOString(),
      });
      // Best effort: this run holds the endpoint back regardless; a later run would not, so say so.
      await pauseEndpoint(store, pause.endpointId, pause.until, pause.httpStatus).catch((error: unknown) =>
        log({
          level: 'warn',
          msg: "the endpoint's pause was not saved: later runs may try it before its Retry-After ends",
          endpointId: pause.endpointId,
          pausedUntil: new Date(pause.until).toISOString(),
          error: describe(error),
        }),
      );
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
    // Until the outcomes are saved the stored outbox still owes what this pass delivered, under
    // this run's lease: a later pass of this run would send it again, so the flow waits for the
    // next run (which sends it again once the lease has ended, as after a crash).
    unsaved.add(key);
    // The outcomes and the lease's release go in one write.
    releaseLease(snapshot, runId);
    if (!isLeaseRenewed && held.get(key)?.version === taken.version) {
      if ((await putBounded(key, snapshot, taken.version)) !== undefined) {
        unsaved.delete(key);
        return;
      }
    }
    // A check of this flow (or another run, or a renewal) wrote meanwhile: this pass's results go on top.
    const passed = new Set(snapshot.outbox.map((entry) => entry.event.id));
    for (const acknowledged of report.acknowledged) passed.add(acknowledged.split(' ')[0] ?? '');
    const saved = await commit(key, (record) => {
      reroute(record);
      applyAcknowledgements(record, report.acknowledged);
      applyDeadLetters(record, report.deadLettered);
      applyCharges(record, report.charged);
      applyDeliveryNotes(record, report.notes);
      releaseLease(record, runId);
      return undefined;
    });
    if (saved) unsaved.delete(key);
    // Events another run recorded while this one held the lease (it left them to this one).
    if (saved?.outbox.some((entry) => !passed.has(entry.event.id))) lane.add(key);
  }

  const lane = new DeliveryLane({
    concurrency: DELIVERY_CONCURRENCY,
    shouldStop: () => clock.now() >= stopAt,
    deliver: async (key) => {
      try {
        await deliverFor(key);
      } catch (error) {
        summary.failed += 1;
        repeated.note(`deliver ${describe(error)}`, {
          level: 'error',
          msg: 'delivering owed events failed; retried later',
          key,
          error: describe(error),
        });
      }
    },
  });
  // What earlier runs still owe starts now, beside the checks, at the head of the lane.
  for (const [key, { record }] of held) if (record.outbox.length > 0) lane.add(key);

  function holdBackoff(key: string, failures: number, now: number, isAccountWide = false): number {
    const count = Math.max(1, failures);
    const retryAt =
      now +
      (isAccountWide
        ? accountFailureBackoffMs(count, held.get(key)?.record.status, config.intervalsS, random)
        : failureBackoffMs(count, random));
    backoffs.set(key, { retryAt, isAccountWide });
    return retryAt;
  }
  function dropAccountBackoffs(): void {
    for (const [key, backoff] of backoffs) {
      if (backoff !== 'dropped' && backoff.isAccountWide) backoffs.set(key, 'dropped');
    }
  }

  async function check(key: string): Promise<CheckVerdict | 'stop'> {
    const current = held.get(key);
    if (!current) return 'unknown';
    const { flowId, custSpaceId } = current.record;
    // Before the call: an answer may describe any moment between sending and receiving it.
    const sentAt = clock.now();
    let flow: Flow;
    try {
      flow = await cams.getFlow({ flowId, custSpaceId }, callOptions);
    } catch (error) {
      const now = clock.now();
      if (error instanceof CamsError && error.code === 'DeadlineExceeded') return 'stop';
      if (error instanceof CamsError && error.code === 'Unknown.ResourceOwnerId') {
        summary.flowsChecked += 1;
        let event: FlowEvent | undefined;
        let stale = false;
        const saved = await commit(key, (record) => {
          event = undefined;
          stale = isStale(record, sentAt);
          if (stale) return false;
          event = markRemoved(record, now, sentAt);
          return undefined;
        });
        if (stale) noteStale(key);
        if (saved && event) announce(event);
        lane.add(key);
        return 'answered';
      }
      summary.failed += 1;
      const isAccountWide = isAccountCondition(error);
      const code =
        error instanceof CamsError || (error instanceof Error && 'code' in error)
          ? String((error as { code: unknown }).code)
          : 'Error';
      repeated.note(`check ${code}`, {
        level: 'warn',
        msg: 'flow check failed; backing off',
        // A condition of CAMS or the account backs off no longer than the flow's interval.
        isAccountWide,
        flowId,
        custSpaceId: custSpaceId ?? null,
        code,
        error: describe(error),
      });
      const failures = (held.get(key)?.record.failures ?? 0) + 1;
      const retryAt = holdBackoff(key, failures, now, isAccountWide);
      await commit(key, (record) => {
        record.failures += 1;
        record.lastError = code.slice(0, 100);
        record.retryAt = retryAt;
        return undefined;
      });
      return isAccountWide ? 'account-failure' : 'answered';
    }
    summary.flowsChecked += 1;
    backoffs.delete(key);
    const now = clock.now();
    let event: FlowEvent | undefined;
    let stale = false;
    const saved = await commit(key, (record) => {
      event = undefined;
      stale = isStale(record, sentAt);
      if (stale) return false;
      record.lastCheckedAt = now;
      record.observedAt = sentAt;
      // nextCheckAt: the HTTP function serves this answer until the poller's next look at it.
      record.lastRead = {
        flow,
        readAt: now,
        nextCheckAt: now + intervalMsFor(flow.status, config.intervalsS),
      };
      record.failures = 0;
      record.lastError = undefined;
      record.retryAt = undefined;
      record.flowName = flow.flowName || record.flowName;
      const observedAt = new Date(now).toISOString();
      if (record.status === undefined) {
        // First sight: a silent baseline.
        record.removed = undefined;
        record.status = flow.status;
        record.statusSince = observedAt;
        return undefined;
      }
      // Back after a removal: announced as a change from the last status known, so a change
      // that happened while it was gone is not swallowed by a silent re-baseline.
      if (record.status === flow.status && !record.removed) return undefined;
      event = statusChangedEvent(record, flow.status, observedAt);
      enqueue(record, event, [...endpoints.keys()], now);
      recordTransition(record, event, [...endpoints.keys()]);
      record.removed = undefined;
      record.status = flow.status;
      record.statusSince = observedAt;
      return undefined;
    });
    if (stale) noteStale(key);
    if (saved && event) announce(event);
    lane.add(key);
    return 'answered';
  }

  const gate = new OutageGate(clock);
  const contested: ContestedPicks = { total: 0, firstChecks: 0 };
  const inProgress = new Set<string>();
  let stopped = false;
  const candidates = () =>
    [...watched]
      .filter((key) => !inProgress.has(key))
      .map((key) => ({ key, record: withHeldBackoff(key, held.get(key)?.record) }))
      .filter((entry): entry is { key: string; record: FlowRecord } => entry.record !== undefined);
  const withHeldBackoff = (key: string, record: FlowRecord | undefined): FlowRecord | undefined => {
    const backoff = backoffs.get(key);
    if (!record || backoff === undefined) return record;
    if (backoff === 'dropped') return { ...record, retryAt: undefined };
    if ((record.retryAt ?? 0) >= backoff.retryAt) return record;
    return { ...record, retryAt: backoff.retryAt };
  };
  const nextDue = (): string | undefined =>
    pickNext(dueOrder(candidates(), clock.now(), config.intervalsS), contested, config.intervalsS)?.key;
  const earliestDueAt = (): number =>
    Math.min(...candidates().map(({ record }) => nextDueAt(record, config.intervalsS)));
  // Enough workers to keep the limiter's slots filled while some wait on CAMS or the store.
  const workers = Math.min(32, Math.max(2, Math.ceil(config.pollQps * 2)));
  let isDiscovering = true;
  const discovery = discover().finally(() => {
    isDiscovering = false;
    discoveryNews.tell();
  });
  await Promise.all([
    discovery,
    ...Array.from({ length: workers }, async () => {
      while (!stopped && clock.now() < stopAt) {
        const gateWaitMs = gate.waitMs();
        if (gateWaitMs > 0) {
          await gate.wait(
            Number.isFinite(gateWaitMs) ? Math.min(gateWaitMs, stopAt - clock.now()) : gateWaitMs,
          );
          continue;
        }
        const key = nextDue();
        if (!key) {
          // Intervals shorter than the timer (THROTTLED every 30 s under a 1-minute trigger) are
          // kept by waiting inside the run for what comes due before the save margin.
          // While discovery may still find flows, its news wakes the worker too (discovery ends by
          // the stop time: its calls carry it as their deadline).
          const waitMs = earliestDueAt() - clock.now();
          const isDueBeforeStop = waitMs < stopAt - clock.now();
          if (isDiscovering) await discoveryNews.wait(isDueBeforeStop ? Math.max(1, waitMs) : undefined);
          else if (isDueBeforeStop) await clock.sleep(Math.max(1, waitMs));
          else return;
          continue;
        }
        inProgress.add(key);
        const isProbe = gate.isProbing;
        gate.starting();
        let verdict: CheckVerdict = 'unknown';
        try {
          const outcome = await check(key);
          if (outcome === 'stop') stopped = true;
          else verdict = outcome;
        } catch (error) {
          summary.failed += 1;
          // Most often the store failing: hold the flow back rather than retry it hot.
          holdBackoff(key, (held.get(key)?.record.failures ?? 0) + 1, clock.now());
          repeated.note(`crash ${describe(error)}`, {
            level: 'error',
            msg: 'flow check crashed',
            key,
            error: describe(error),
          });
        } finally {
          inProgress.delete(key);
          const transition = gate.finished(verdict, isProbe);
          if (transition === 'reopened') dropAccountBackoffs();
          if (transition === 'probing') {
            log({
              level: 'warn',
              msg: 'CAMS is failing for the whole account; checking one flow at a time until it answers',
              failuresInRow: OUTAGE_AFTER_FAILURES,
            });
          }
        }
      }
    }),
  ]);

  await lane.idle();
  for (const [endpointId, reason] of health.unreachable()) {
    log({
      level: 'warn',
      msg: 'webhook endpoint gave no HTTP answer; not tried again this run, its events stay owed',
      endpointId,
      reason,
    });
  }
  for (const { record } of held.values()) summary.pending += record.outbox.length;
  repeated.flush(log);
  summary.durationMs = clock.now() - startedAt;
  return summary;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

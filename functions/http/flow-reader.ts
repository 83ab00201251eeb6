import type { AccountBudget } from '../../shared/budget';
import type { CamsAttempt, CamsClient, Credentials, Flow } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import { flowKey } from '../../shared/poller/records';
import { parseStoredAnswer, type StoredAnswer, sharedCacheKey } from '../../shared/read-model';
import { type StateStore, StateStoreError } from '../../shared/state';
import type { SourcedFlow } from './answer';
import { hasUsablePreview, usablePreview } from './preview';

export interface FlowReaderOptions {
  readonly cams: CamsClient;
  readonly budget: AccountBudget;
  readonly clock: Clock;
  /** How old a poller's answer for a watched flow may be and still be served (HTTP_MAX_AGE_SECONDS). */
  readonly maxAgeMs: number;
  /** How long an answer read here is shared with every instance (HTTP_CACHE_TTL_SECONDS). */
  readonly cacheTtlMs: number;
  readonly log: (entry: Record<string, unknown>) => void;
}

export interface FlowReadRequest {
  readonly flowId: string;
  readonly custSpaceId: string | undefined;
  readonly store: StateStore;
  readonly credentials: Credentials;
  readonly deadlineMs: number;
  /** Cache-Control: no-cache — ask CAMS whatever is stored. */
  readonly isNoCache: boolean;
  /** A stored answer is used only if its preview URL stays valid this much longer. */
  readonly minPreviewValidityMs: number;
  readonly onAttempt: (attempt: CamsAttempt) => void;
}

/**
 * A watched flow's answer stays servable until the poller's next scheduled check plus this: the
 * timer starts a run each minute and a due flow is checked within that run, so a check comes at
 * most about a tick and a half after it was due. Past it, the poller is late or stopped: CAMS.
 */
export const NEXT_CHECK_MARGIN_MS = 90_000;
/**
 * However far the stored schedule says the next check is, an answer older than this is not
 * served from the poller's record (twice the default longest interval, DEPRECATED=3600 s).
 */
export const MAX_SCHEDULED_AGE_MS = 2 * 3600 * 1000;

/**
 * Until when the poller's answer may be served: HTTP_MAX_AGE_SECONDS after it was read, or until
 * the poller's next check (plus margin) when that is later — nothing fresher is known before it,
 * so a DRAFT flow polled every 120 s costs no CAMS call either — but never past the hard cap.
 */
export function watchedFreshUntil(answer: StoredAnswer, maxAgeMs: number): number {
  const byAge = answer.readAt + maxAgeMs;
  if (answer.nextCheckAt === undefined) return byAge;
  const bySchedule = Math.min(
    answer.nextCheckAt + NEXT_CHECK_MARGIN_MS,
    answer.readAt + MAX_SCHEDULED_AGE_MS,
  );
  return Math.max(byAge, bySchedule);
}

/** Thrown out of the budget wait when another instance stored a fresh answer meanwhile. */
class AnsweredMeanwhile extends Error {
  constructor(readonly answer: SourcedFlow) {
    super('another instance read this flow meanwhile');
  }
}

/**
 * Reads a flow the cheapest way that is fresh enough: the poller's last answer for a watched
 * flow (no CAMS call), then the cache entry instances share, then CAMS under the account's
 * budget — whose answer is then shared. Anything read back from the store is validated; a
 * corrupt or unreadable entry is a miss, never an error for the caller.
 */
export function createFlowReader(options: FlowReaderOptions) {
  const { cams, budget, clock, maxAgeMs, cacheTtlMs, log } = options;
  // While the store is down (unreachable, or skipped by the fail-fast guard) every request would
  // warn: say it once per outage, and once more when the store answers again, with what was skipped.
  let outage: { since: number; skipped: number } | undefined;
  const storeAnswered = () => {
    if (!outage) return;
    log({
      level: 'info',
      msg: 'the state store answers again',
      outageMs: clock.now() - outage.since,
      skippedWarnings: outage.skipped,
    });
    outage = undefined;
  };
  const warn = (msg: string, key: string, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof StateStoreError && error.retryable) {
      if (outage) {
        outage.skipped += 1;
        return;
      }
      outage = { since: clock.now(), skipped: 0 };
      log({
        level: 'warn',
        msg: `${msg} (the state store is failing; logged once until it answers again)`,
        key,
        error: message,
      });
      return;
    }
    // Any other failure came back from the store (a lost race, a refused row): it is up.
    storeAnswered();
    log({ level: 'warn', msg, key, error: message });
  };

  async function readStored(
    store: StateStore,
    key: string,
    flowId: string,
    isUsable: (value: unknown) => boolean = () => true,
  ): Promise<{ answer: StoredAnswer | undefined; version: number }> {
    try {
      const item = await store.get(key);
      storeAnswered();
      if (!item) return { answer: undefined, version: 0 };
      if (!isUsable(item.value)) return { answer: undefined, version: item.version };
      const answer = parseStoredAnswer(projectAnswer(item.value), flowId, clock.now());
      if (!answer)
        log({ level: 'warn', msg: 'stored answer ignored: not a valid answer for this flow', key });
      return { answer, version: item.version };
    } catch (error) {
      warn('stored answer unreadable; asking CAMS', key, error);
      return { answer: undefined, version: -1 };
    }
  }

  return async function readFlow(request: FlowReadRequest): Promise<SourcedFlow> {
    const { store, flowId, custSpaceId } = request;
    const cacheKey = sharedCacheKey(flowId, custSpaceId);
    const isFreshUntil = (answer: StoredAnswer, freshUntil: number, now = clock.now()) =>
      freshUntil > now && hasUsablePreview(usablePreview(answer.flow), now, request.minPreviewValidityMs);
    const isFresh = (answer: StoredAnswer, lifetimeMs: number) =>
      isFreshUntil(answer, answer.readAt + lifetimeMs);
    const readShared = () => readStored(store, cacheKey, flowId, isObject);
    let hasStaleCopy = false;
    let sharedVersion = -1;

    if (!request.isNoCache) {
      const watched = await readStored(store, flowKey(flowId, custSpaceId), flowId, (value) =>
        isLiveRecord(value),
      );
      if (watched.answer) {
        const { nextCheckAt: _nextCheckAt, ...answer } = watched.answer;
        const freshUntil = watchedFreshUntil(watched.answer, maxAgeMs);
        if (isFreshUntil(answer, freshUntil)) return { ...answer, freshUntil, source: 'watch' };
      }
      const shared = await readShared();
      sharedVersion = shared.version;
      if (shared.answer && isFresh(shared.answer, cacheTtlMs)) {
        return { ...shared.answer, freshUntil: shared.answer.readAt + cacheTtlMs, source: 'shared' };
      }
      hasStaleCopy = watched.answer !== undefined || shared.answer !== undefined;
    }

    let tries = 0;
    const slot = budget.bind(store, {
      // Waiting for a slot, another instance may have read this very flow: use its answer.
      beforeEachTry: async () => {
        tries += 1;
        if (tries === 1 || request.isNoCache || cacheTtlMs === 0) return;
        const shared = await readShared();
        sharedVersion = shared.version;
        if (shared.answer && isFresh(shared.answer, cacheTtlMs)) {
          throw new AnsweredMeanwhile({
            ...shared.answer,
            freshUntil: shared.answer.readAt + cacheTtlMs,
            source: 'shared',
            isCollapsed: true,
          });
        }
      },
    });
    let flow: Flow;
    try {
      flow = await cams.getFlow(
        { flowId, custSpaceId },
        {
          credentials: request.credentials,
          deadlineMs: request.deadlineMs,
          onAttempt: request.onAttempt,
          budget: slot,
        },
      );
    } catch (error) {
      if (error instanceof AnsweredMeanwhile) return error.answer;
      throw error;
    }
    const readAt = clock.now();
    const isShared = cacheTtlMs > 0 && (await share(store, cacheKey, { flow, readAt }, sharedVersion));
    return {
      flow,
      readAt,
      freshUntil: readAt + cacheTtlMs,
      source: 'cams',
      forwardReason: request.isNoCache ? 'request' : hasStaleCopy ? 'stale' : 'miss',
      isShared,
    };
  };

  /**
   * Best effort: a lost race or an unreachable store only means the next instance asks CAMS too.
   * Whether the answer was written, so Cache-Status says `stored` only when it was.
   */
  async function share(
    store: StateStore,
    key: string,
    answer: StoredAnswer,
    knownVersion: number,
  ): Promise<boolean> {
    try {
      const version = knownVersion >= 0 ? knownVersion : ((await store.get(key))?.version ?? 0);
      const written = await store.put(key, answer, version);
      storeAnswered();
      return written !== undefined;
    } catch (error) {
      warn('could not share the answer in the store', key, error);
      return false;
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A poller record serves reads only while the flow is still there (not marked removed). */
function isLiveRecord(value: unknown): boolean {
  return isObject(value) && value.removed !== true && isObject(value.lastRead);
}

/** The answer inside a poller record (`lastRead`), or a shared cache entry as it is. */
function projectAnswer(value: unknown): unknown {
  return isObject(value) && isObject(value.lastRead) ? value.lastRead : value;
}

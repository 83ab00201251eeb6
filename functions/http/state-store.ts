import { createHash } from 'node:crypto';
import { DECISION_MS, formatQps } from '../../shared/budget';
import { type Credentials, MissingCredentialsError, resolveCredentials } from '../../shared/cams';
import { type Clock, within } from '../../shared/clock';
import {
  aroundStore,
  createStateStore,
  type StateStore,
  StateStoreError,
  unavailableStore,
} from '../../shared/state';
import { HttpError } from './http-error';

/** After the store failed to answer, requests skip it this long instead of each waiting on it. */
const STORE_RETRY_MS = 10_000;
/** A caller is waiting: one quick retry, not the SDK's default patience. */
const STORE_TIMEOUT_MS = 2000;
const STORE_RETRIES = 1;

/**
 * Fails fast for a while after the store failed to answer (unreachable, timing out), so every
 * request of a warm instance does not pay the store's timeout before asking CAMS. Answers that
 * came back (a conflict, a corrupt row) do not trip it.
 *
 * The account budget's counters (increment, counters) are never skipped: a CAMS call not counted
 * in the store is invisible to the poller and the other HTTP instances, so while the store is back
 * but the guard still closed they could take the account past its calls per second. On its
 * fallback the budget bounds its own store tries (its decision time, 100 ms); while the guard is
 * closed each counter call is given no longer here either, so a budget not yet on its fallback
 * does not wait out the store's timeout right after a read has. The call itself goes on: a count
 * that lands late still counts.
 */
function failingFast(store: StateStore, clock: Clock): StateStore {
  let downUntil = Number.NEGATIVE_INFINITY;
  const isDown = () => clock.now() < downUntil;
  const noted = async <R>(call: () => Promise<R>): Promise<R> => {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StateStoreError) || error.retryable) downUntil = clock.now() + STORE_RETRY_MS;
      throw error;
    }
  };
  const budgetTry = async <R extends {}>(call: () => Promise<R>): Promise<R> => {
    if (!isDown()) return noted(call);
    const result = await within(clock, DECISION_MS, noted(call));
    if (result === undefined) {
      throw unavailable(`the state store failed moments ago and did not answer within ${DECISION_MS} ms`);
    }
    return result;
  };
  return {
    ...aroundStore(store, async (call) => {
      if (isDown()) throw unavailable('the state store failed moments ago; not asked again yet');
      return noted(call);
    }),
    increment: (key, by) => budgetTry(() => store.increment(key, by)),
    counters: (startKey, endKey) => budgetTry(() => store.counters(startKey, endKey)),
  };
}

function unavailable(message: string): StateStoreError {
  return new StateStoreError('StateUnavailable', message, { retryable: true });
}

/**
 * The HTTP function's state store (STATE_URL), opened on first use in a warm instance and
 * kept, so its connection pool carries over between invocations. FC's role credentials are
 * temporary, so the store is reopened whenever an invocation brings different ones. A store
 * that cannot be opened (no role) is logged once; requests still answer, from CAMS. A malformed
 * STATE_URL never gets here: parseHttpConfig refuses it, naming the variable on every request.
 */
export function createStateStoreOpener(options: {
  readonly stateUrl: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: (entry: Record<string, unknown>) => void;
  /** The calls per second the account budget's fallback allows this instance (fallbackQpsOf). */
  readonly fallbackQps: number;
}) {
  let opened: { fingerprint: string; store: StateStore } | undefined;
  let hasLoggedFailure = false;
  return async function openStateStore(credentials: Credentials | undefined): Promise<StateStore> {
    const fingerprint = createHash('sha256')
      .update(
        `${credentials?.accessKeyId}\u0000${credentials?.accessKeySecret}\u0000${credentials?.securityToken}`,
      )
      .digest('base64');
    if (opened?.fingerprint === fingerprint) return opened.store;
    try {
      const store = failingFast(
        await createStateStore(options.stateUrl, {
          credentials,
          env: options.env,
          clock: options.clock,
          timeoutMs: STORE_TIMEOUT_MS,
          maxRetries: STORE_RETRIES,
        }),
        options.clock,
      );
      await opened?.store.close().catch(() => undefined);
      opened = { fingerprint, store };
      return store;
    } catch (error) {
      if (!hasLoggedFailure) {
        hasLoggedFailure = true;
        options.log({
          level: 'error',
          msg: `the state store cannot be opened: watched flows and the shared cache are not used, and CAMS calls are limited to ${formatQps(options.fallbackQps)}/s per instance (logged once per instance)`,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return unavailableStore(error);
    }
  };
}

/** A store's own error code as a caller may see it: Tablestore's come from whoever answered. */
const SAFE_STORE_CODE = /^[A-Za-z][A-Za-z0-9.]{0,63}$/;

/**
 * Runs a store operation, turning its failures into answers an operator can act on. A store's
 * message can hold what a caller must not see (a `file:` store's directory and the OS error), so
 * an unavailable or failing store answers a fixed message with the store's error code, and the
 * message goes to the function log (HttpError.detail) under the same requestId.
 */
export async function mapStateErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof StateStoreError)) throw error;
    if (error.code === 'MissingCredentials') throw new HttpError(503, error.code, error.message);
    if (error.code === 'InvalidConfiguration') throw new HttpError(500, error.code, error.message);
    if (error.code === 'StateCorrupt')
      throw new HttpError(500, error.code, `${error.message}; inspect it in the state store`);
    const storeCode = SAFE_STORE_CODE.test(error.code) ? ` (${error.code})` : '';
    if (error.retryable) {
      throw new HttpError(
        503,
        'StateUnavailable',
        `the state store is unavailable${storeCode}: retry in a moment; the function log has the cause under this requestId`,
        { headers: { 'retry-after': '1' }, detail: error.message },
      );
    }
    throw new HttpError(
      502,
      'StateError',
      `the state store failed${storeCode}: the function log has the cause under this requestId`,
      { detail: error.message },
    );
  }
}

/** The invocation's credentials, or none: a `file:` store needs none, Tablestore then says what is missing. */
export function credentialsIfAny(
  contextCredentials: unknown,
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  try {
    return resolveCredentials(contextCredentials, env);
  } catch (error) {
    if (error instanceof MissingCredentialsError) return undefined;
    throw error;
  }
}

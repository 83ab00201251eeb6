import { createHash } from 'node:crypto';
import type { Credentials } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import { createStateStore, type StateStore, StateStoreError } from '../../shared/state';

/** Stands in for a store that could not be opened: every call fails, so readers miss and the budget falls back. */
function unavailableStore(cause: unknown): StateStore {
  const fail = async (): Promise<never> => {
    throw new StateStoreError(
      'StateUnavailable',
      `the state store could not be opened: ${(cause as Error).message}`,
      {
        retryable: true,
        cause,
      },
    );
  };
  return {
    get: fail,
    list: fail,
    put: fail,
    delete: fail,
    increment: fail,
    counters: fail,
    close: async () => {},
  };
}

/**
 * The HTTP function's state store (STATE_URL), opened on first use in a warm instance and
 * kept, so its connection pool carries over between invocations. FC's role credentials are
 * temporary, so the store is reopened whenever an invocation brings different ones. A store
 * that cannot be opened (bad STATE_URL, no role) is logged once; requests still answer, from CAMS.
 */
export function createStateStoreOpener(options: {
  readonly stateUrl: string;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly log: (entry: Record<string, unknown>) => void;
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
      const store = await createStateStore(options.stateUrl, {
        credentials,
        env: options.env,
        clock: options.clock,
      });
      await opened?.store.close().catch(() => undefined);
      opened = { fingerprint, store };
      return store;
    } catch (error) {
      if (!hasLoggedFailure) {
        hasLoggedFailure = true;
        options.log({
          level: 'error',
          msg: 'the state store cannot be opened: watched flows and the shared cache are not used, and CAMS calls are limited to 1/s per instance (logged once per instance)',
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return unavailableStore(error);
    }
  };
}

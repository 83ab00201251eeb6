import { StateStoreError } from './errors';
import type { StateStore } from './types';

/**
 * Stands in for a store that could not be opened: every call fails, so readers miss and the
 * account budget falls back to its local limit, as it does when a store stops answering. A
 * StateStoreError (no role, bad STATE_URL) is rethrown as it is, so callers can say what to fix.
 */
export function unavailableStore(cause: unknown): StateStore {
  const fail = async (): Promise<never> => {
    if (cause instanceof StateStoreError) throw cause;
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

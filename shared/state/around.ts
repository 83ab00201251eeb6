import type { StateStore } from './types';

/** A store whose every call (but close) runs inside `around`: for fail-fast guards, counting, tracing. */
export function aroundStore(
  store: StateStore,
  around: <R>(call: () => Promise<R>) => Promise<R>,
): StateStore {
  return {
    get: (key) => around(() => store.get(key)),
    list: (prefix) => around(() => store.list(prefix)),
    put: (key, value, version) => around(() => store.put(key, value, version)),
    delete: (key, version) => around(() => store.delete(key, version)),
    increment: (key, by) => around(() => store.increment(key, by)),
    counters: (start, end) => around(() => store.counters(start, end)),
    close: () => store.close(),
  };
}

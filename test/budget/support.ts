import { aroundStore, type StateStore } from '../../shared/state';

/** Counts store calls in flight, so virtual time stands still while real I/O runs. */
export function tracked(store: StateStore, pending: { count: number }): StateStore {
  return aroundStore(store, async (call) => {
    pending.count += 1;
    try {
      return await call();
    } finally {
      pending.count -= 1;
    }
  });
}

/** The most events (call starts, or arrivals as CAMS counts them) inside any rolling `windowMs`. */
export function busiestWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let first = 0, last = 0; last < sorted.length; last += 1) {
    while ((sorted[last] ?? 0) - (sorted[first] ?? 0) >= windowMs) first += 1;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

/**
 * The poller's persistence contract: a small versioned key-value store with compare-and-set.
 * Every write names the version it expects, so two overlapping runs can never both claim the
 * same change: the second write fails and that run re-reads.
 */

export interface VersionedItem<T = unknown> {
  readonly key: string;
  readonly value: T;
  /** Starts at 1 on creation and grows by one on every successful write. */
  readonly version: number;
  /**
   * Set by `list` when the stored bytes are not JSON (truncated, empty): `value` is then
   * undefined, so one damaged item cannot fail the listing of every other one.
   */
  readonly unreadable?: string | undefined;
}

export interface Counter {
  readonly key: string;
  readonly value: number;
}

/**
 * How long a counter is guaranteed to survive its last change. Counters count recent events
 * (CAMS calls per time bucket), so each store drops them some time after this: the file store
 * prunes them, the Tablestore store keeps them in a table whose rows expire after a day.
 */
export const COUNTER_MIN_LIFETIME_MS = 60_000;

export interface StateStore {
  get<T = unknown>(key: string): Promise<VersionedItem<T> | undefined>;
  /** Every item whose key starts with `prefix`, in ascending key order. */
  list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]>;
  /**
   * Writes `value` (JSON-serialisable) only if the stored version equals `expectedVersion`
   * (0 means the key must not exist yet). Resolves to the new version, or `undefined` when
   * another writer got there first. Any other failure rejects with a StateStoreError.
   */
  put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined>;
  /** Deletes only if the stored version equals `expectedVersion`; false on conflict or absence. */
  delete(key: string, expectedVersion: number): Promise<boolean>;
  /**
   * Atomically adds `by` (may be negative) to the integer counter `key` — a missing counter
   * starts at 0 — and resolves to its new value. Counters are short-lived (see
   * COUNTER_MIN_LIFETIME_MS) and live apart from versioned items: `get` and `list` never see them.
   */
  increment(key: string, by: number): Promise<number>;
  /** Counters with `startKey <= key < endKey`, in ascending key order. */
  counters(startKey: string, endKey: string): Promise<Counter[]>;
  close(): Promise<void>;
}

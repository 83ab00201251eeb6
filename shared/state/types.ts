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
  close(): Promise<void>;
}

import type { Counter, StateStore, VersionedItem } from '../shared/state';

/**
 * An in-memory StateStore for the poller benchmark: it measures the sweep and the CAMS budget,
 * not disk speed (the file store rereads every record each run, which at 5000 flows dominates).
 */
export class MemoryStateStore implements StateStore {
  readonly #items = new Map<string, { value: string; version: number }>();
  readonly #counters = new Map<string, number>();

  async get<T = unknown>(key: string): Promise<VersionedItem<T> | undefined> {
    const item = this.#items.get(key);
    return item ? { key, value: JSON.parse(item.value) as T, version: item.version } : undefined;
  }

  async list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]> {
    return [...this.#items.keys()]
      .filter((key) => key.startsWith(prefix))
      .sort()
      .map((key) => {
        const item = this.#items.get(key) as { value: string; version: number };
        return { key, value: JSON.parse(item.value) as T, version: item.version };
      });
  }

  async put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined> {
    const current = this.#items.get(key)?.version ?? 0;
    if (current !== expectedVersion) return undefined;
    this.#items.set(key, { value: JSON.stringify(value), version: current + 1 });
    return current + 1;
  }

  async delete(key: string, expectedVersion: number): Promise<boolean> {
    if (this.#items.get(key)?.version !== expectedVersion) return false;
    return this.#items.delete(key);
  }

  async increment(key: string, by: number): Promise<number> {
    const value = (this.#counters.get(key) ?? 0) + by;
    this.#counters.set(key, value);
    return value;
  }

  async counters(startKey: string, endKey: string): Promise<Counter[]> {
    return [...this.#counters]
      .filter(([key]) => key >= startKey && key < endKey)
      .sort(([left], [right]) => (left < right ? -1 : 1))
      .map(([key, value]) => ({ key, value }));
  }

  async close(): Promise<void> {}
}

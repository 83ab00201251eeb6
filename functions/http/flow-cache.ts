import type { Clock } from '../../shared/clock';
import type { SourcedFlow } from './answer';
import { previewExpiryOf, usablePreview } from './preview';

interface Entry {
  readonly answer: SourcedFlow;
  readonly expiresAt: number;
}

export interface CachedFlow {
  readonly answer: SourcedFlow;
  /** Served from this instance's memory. */
  readonly hit: boolean;
  /** Shared another request's load in this instance. */
  readonly collapsed: boolean;
  /** The answer is kept in this instance's memory (a TTL of 0 or an expiring preview keeps nothing). */
  readonly isStored: boolean;
  readonly expiresAt: number;
}

/**
 * Per-instance cache in front of the store and CAMS: each entry lives for the TTL but never past
 * the answer's own freshness or the preview URL's expiry, and concurrent misses for one key
 * share a single load. FC runs one request per instance, so this pays off for a warm
 * instance's consecutive requests; what holds across instances lives in the store.
 */
export class FlowCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<SourcedFlow>>();
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; clock: Clock; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? 1000;
  }

  /** `accept` turns down a cached answer this request cannot use (e.g. a preview URL about to expire). */
  async get(
    key: string,
    load: () => Promise<SourcedFlow>,
    accept: (answer: SourcedFlow) => boolean = () => true,
  ): Promise<CachedFlow> {
    const now = this.#clock.now();
    const cached = this.#entries.get(key);
    if (cached && cached.expiresAt > now && accept(cached.answer)) {
      return {
        answer: cached.answer,
        hit: true,
        collapsed: false,
        isStored: true,
        expiresAt: cached.expiresAt,
      };
    }
    let pending = this.#inFlight.get(key);
    const joined = pending !== undefined;
    if (!pending) {
      pending = load().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const answer = await pending;
    const loadedAt = this.#clock.now();
    const expiresAt = Math.min(
      loadedAt + this.#ttlMs,
      answer.freshUntil,
      previewExpiryOf(usablePreview(answer.flow), loadedAt),
    );
    if (!joined && expiresAt > loadedAt) {
      if (this.#entries.size >= this.#maxEntries)
        this.#entries.delete(this.#entries.keys().next().value ?? '');
      this.#entries.set(key, { answer, expiresAt });
    }
    const isStored = this.#entries.get(key)?.answer === answer;
    return { answer, hit: false, collapsed: joined, isStored, expiresAt };
  }

  /** Drops a key, so the next request loads it again (Cache-Control: no-cache). */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}

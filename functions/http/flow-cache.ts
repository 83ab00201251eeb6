import type { Flow } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import { usablePreviewUrl } from './preview';

interface Entry {
  readonly flow: Flow;
  readonly expiresAt: number;
}

export interface CachedFlow {
  readonly flow: Flow;
  readonly hit: boolean;
  readonly expiresAt: number;
}

/**
 * When the flow's preview link stops working. A link without a known expiry is not cached (it
 * may already be dead); a flow without a usable link has nothing to expire.
 */
function previewExpiryOf(flow: Flow, loadedAt: number): number {
  if (!usablePreviewUrl(flow)) return Number.POSITIVE_INFINITY;
  const expiry = flow.previewUrlExpiresAt === undefined ? Number.NaN : Date.parse(flow.previewUrlExpiresAt);
  return Number.isNaN(expiry) ? loadedAt : expiry;
}

/**
 * Per-instance cache of GetFlow answers: each entry lives for the TTL but never past the
 * preview URL's expiry, and concurrent misses for one key share a single CAMS call — the
 * account has 5 calls/s for every caller together.
 */
export class FlowCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<Flow>>();
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #maxEntries: number;

  constructor(options: { ttlMs: number; clock: Clock; maxEntries?: number }) {
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#maxEntries = options.maxEntries ?? 1000;
  }

  async get(key: string, load: () => Promise<Flow>): Promise<CachedFlow> {
    const now = this.#clock.now();
    const cached = this.#entries.get(key);
    if (cached && cached.expiresAt > now)
      return { flow: cached.flow, hit: true, expiresAt: cached.expiresAt };
    let pending = this.#inFlight.get(key);
    const joined = pending !== undefined;
    if (!pending) {
      pending = load().finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    const flow = await pending;
    const loadedAt = this.#clock.now();
    const expiresAt = Math.min(loadedAt + this.#ttlMs, previewExpiryOf(flow, loadedAt));
    if (!joined && expiresAt > loadedAt) {
      if (this.#entries.size >= this.#maxEntries)
        this.#entries.delete(this.#entries.keys().next().value ?? '');
      this.#entries.set(key, { flow, expiresAt });
    }
    return { flow, hit: joined, expiresAt };
  }
}

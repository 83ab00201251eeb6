import type { Clock } from '../clock';

export interface RateLimiterOptions {
  /** Calls allowed in any window. */
  readonly limit: number;
  readonly windowMs?: number;
  /**
   * Extra spacing per window. CAMS counts calls by arrival, so two calls sent exactly one
   * window apart can land inside one window when the first is delayed in transit.
   */
  readonly marginMs?: number;
  readonly clock: Clock;
}

export class RateLimitWaitTooLongError extends Error {
  override readonly name = 'RateLimitWaitTooLongError';
  readonly startAt: number;
  constructor(startAt: number) {
    super('the rate limiter cannot start this call before its deadline');
    this.startAt = startAt;
  }
}

/**
 * A token bucket of `limit` tokens in which each token comes back one window after it was
 * spent, rather than refilling continuously. A continuously refilling bucket lets 2×limit
 * calls through in one rolling second (a full bucket plus a second's refill); CAMS counts a
 * rolling window, so that burst would be throttled. Slots are handed out in call order.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #spacingMs: number;
  readonly #clock: Clock;
  /** Start times of the last `limit` reserved slots, as a ring: `#ring[#next]` is the oldest once full. */
  readonly #ring: number[] = [];
  #next = 0;
  #lastStartAt = Number.NEGATIVE_INFINITY;

  constructor(options: RateLimiterOptions) {
    if (!Number.isFinite(options.limit) || options.limit <= 0) {
      throw new RangeError(`rate limit must be a positive number, got ${options.limit}`);
    }
    this.#limit = Math.max(1, Math.floor(options.limit));
    this.#spacingMs = (options.windowMs ?? 1000) + (options.marginMs ?? 25);
    this.#clock = options.clock;
  }

  /** When the next call could start if reserved now. */
  nextStartAt(): number {
    const earliest = Math.max(this.#clock.now(), this.#lastStartAt);
    if (this.#ring.length < this.#limit) return earliest;
    return Math.max(earliest, (this.#ring[this.#next] ?? 0) + this.#spacingMs);
  }

  /**
   * Reserves the next slot and waits for it. Rejects without reserving when the slot lies
   * past `latestStartAt`, so a caller's deadline never burns budget it cannot use.
   */
  async acquire(
    options: { signal?: AbortSignal | undefined; latestStartAt?: number | undefined } = {},
  ): Promise<void> {
    options.signal?.throwIfAborted();
    const startAt = this.nextStartAt();
    if (options.latestStartAt !== undefined && startAt > options.latestStartAt) {
      throw new RateLimitWaitTooLongError(startAt);
    }
    this.#ring[this.#next] = startAt;
    this.#next = (this.#next + 1) % this.#limit;
    this.#lastStartAt = startAt;
    const waitMs = startAt - this.#clock.now();
    if (waitMs > 0) await this.#clock.sleep(waitMs, options.signal);
  }
}

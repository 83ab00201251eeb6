import type { Clock } from '../clock';
import type { CallSlot } from './types';

export interface RateLimiterOptions {
  /** Calls allowed in any window. */
  readonly limit: number;
  readonly windowMs?: number;
  /**
   * Extra spacing per window, for timers that fire a little early and clocks read at
   * millisecond granularity; the arrival-time guarantee itself comes from waiting for answers.
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

/** A limiter's slot: settled once its call's answer is in, or released if the call is never sent. */
export interface LimiterSlot extends CallSlot {
  /**
   * The call will not be sent after all (a later slot was refused, the caller gave up): the
   * successor may start when this token's predecessor let this one, so the token costs nothing.
   * Whichever of `settle` and `release` comes first counts; the rest do nothing.
   */
  release(): void;
}

/**
 * One call's token, from its reservation until the token is free for the call that takes it
 * over `limit` reservations later.
 */
class Token implements LimiterSlot {
  readonly #clock: Clock;
  readonly #spacingMs: number;
  /** When the successor may start, once known. */
  #freeAt: number | undefined;
  /** A lower bound for `#freeAt` while it is unknown. */
  #freeAtAtLeast: number;
  /** The token this one hands on unused, while that one is not yet free. */
  #previous: Token | undefined;
  #isStarted = false;
  /** When the predecessor let this token start: what it hands on if its call is never sent. */
  #handedOverAt = Number.NEGATIVE_INFINITY;
  #listeners: Array<(freeAt: number) => void> = [];

  constructor(clock: Clock, spacingMs: number, earliestStartAt: number) {
    this.#clock = clock;
    this.#spacingMs = spacingMs;
    this.#freeAtAtLeast = earliestStartAt + spacingMs;
  }

  get freeAt(): number | undefined {
    return this.#freeAt;
  }

  get freeAtAtLeast(): number {
    return this.#freeAt ?? this.#previous?.freeAtAtLeast ?? this.#freeAtAtLeast;
  }

  onFree(listener: (freeAt: number) => void): void {
    this.#listeners.push(listener);
  }

  offFree(listener: (freeAt: number) => void): void {
    this.#listeners = this.#listeners.filter((entry) => entry !== listener);
  }

  start(handedOverAt: number): void {
    this.#isStarted = true;
    this.#handedOverAt = handedOverAt;
    this.#freeAtAtLeast = this.#clock.now() + this.#spacingMs;
  }

  /** The call's answer (or its failure) has arrived. Only the first of settle/release counts. */
  settle(): void {
    if (!this.#isStarted || this.#freeAt !== undefined) return;
    this.#free(this.#clock.now() + this.#spacingMs);
  }

  /** Started but never sent: hands the predecessor's time on, as `passOn` does for a waiter. */
  release(): void {
    if (!this.#isStarted || this.#freeAt !== undefined) return;
    this.#free(this.#handedOverAt);
  }

  /** Never used: the successor may start when this token's predecessor would have let it. */
  passOn(previous: Token | undefined): void {
    if (previous === undefined) {
      this.#free(Number.NEGATIVE_INFINITY);
    } else if (previous.freeAt !== undefined) {
      this.#free(previous.freeAt);
    } else {
      this.#previous = previous;
      previous.onFree((freeAt) => this.#free(freeAt));
    }
  }

  #free(freeAt: number): void {
    this.#freeAt = freeAt;
    this.#previous = undefined;
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener(freeAt);
  }
}

/**
 * `limit` tokens, each taken over by the call `limit` reservations later, which starts one
 * window after the *answer* to the token's previous call has arrived (`settle`). CAMS counts
 * calls by arrival, not by when we sent them: two calls sent one window apart land inside one
 * window whenever the first was slower in transit (new connections, a loaded machine, the
 * network), and no fixed margin covers that. CAMS counted a call somewhere between its send
 * and its answer, so a call sent at least one window after its predecessor's answer arrives at
 * least one window after it. A token whose call is never sent (abort, deadline, while waiting
 * or after — `release`) passes its predecessor's time on, so it costs nothing. Tokens come back one window after use rather than
 * refilling continuously, because a continuously refilling bucket lets 2×limit calls through in
 * one rolling second (a full bucket plus a second's refill).
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #spacingMs: number;
  readonly #clock: Clock;
  /** The last `limit` tokens, as a ring: `#ring[#next]` is the one the next call takes over. */
  readonly #ring: Token[] = [];
  #next = 0;

  constructor(options: RateLimiterOptions) {
    if (!Number.isFinite(options.limit) || options.limit <= 0) {
      throw new RangeError(`rate limit must be a positive number, got ${options.limit}`);
    }
    this.#limit = Math.max(1, Math.floor(options.limit));
    this.#spacingMs = (options.windowMs ?? 1000) + (options.marginMs ?? 25);
    this.#clock = options.clock;
  }

  /**
   * Reserves the next token and waits until it is free. The caller must `settle` the returned
   * slot once the call's answer, failure or timeout has arrived (in a `finally`), or `release`
   * it if the call is not sent after all: until then the next call on this token waits. Rejects without reserving when the call could only
   * start past `latestStartAt`, so a caller's deadline never burns budget it cannot use.
   */
  async acquire(
    options: { signal?: AbortSignal | undefined; latestStartAt?: number | undefined } = {},
  ): Promise<LimiterSlot> {
    const { signal, latestStartAt } = options;
    signal?.throwIfAborted();
    const previous = this.#ring[this.#next];
    // Assumes the previous holder sends its call; if it gives up instead, this is too late.
    const earliestStartAt = Math.max(this.#clock.now(), previous?.freeAtAtLeast ?? Number.NEGATIVE_INFINITY);
    if (latestStartAt !== undefined && earliestStartAt > latestStartAt) {
      throw new RateLimitWaitTooLongError(earliestStartAt);
    }
    const token = new Token(this.#clock, this.#spacingMs, earliestStartAt);
    this.#ring[this.#next] = token;
    this.#next = (this.#next + 1) % this.#limit;
    let freeAt = Number.NEGATIVE_INFINITY;
    try {
      if (previous !== undefined) freeAt = await this.#whenFree(previous, options);
      const startAt = Math.max(this.#clock.now(), freeAt);
      if (latestStartAt !== undefined && startAt > latestStartAt)
        throw new RateLimitWaitTooLongError(startAt);
      const waitMs = startAt - this.#clock.now();
      if (waitMs > 0) await this.#clock.sleep(waitMs, signal);
    } catch (error) {
      token.passOn(previous);
      throw error;
    }
    token.start(freeAt);
    return token;
  }

  /** Waits for the previous holder's answer, but not past the point where the deadline is lost. */
  #whenFree(
    previous: Token,
    { signal, latestStartAt }: { signal?: AbortSignal | undefined; latestStartAt?: number | undefined },
  ): Promise<number> {
    const known = previous.freeAt;
    if (known !== undefined) return Promise.resolve(known);
    return new Promise<number>((resolve, reject) => {
      const giveUp = new AbortController();
      const finish = () => {
        giveUp.abort();
        previous.offFree(onFree);
        signal?.removeEventListener('abort', onAbort);
      };
      const onFree = (freeAt: number) => {
        finish();
        resolve(freeAt);
      };
      const onAbort = () => {
        finish();
        reject(signal?.reason);
      };
      previous.onFree(onFree);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (latestStartAt === undefined) return;
      // Unanswered by then, the token frees past the deadline.
      const giveUpAt = latestStartAt - this.#spacingMs;
      this.#clock.sleep(Math.max(0, giveUpAt - this.#clock.now()), giveUp.signal).then(
        () => {
          finish();
          reject(new RateLimitWaitTooLongError(this.#clock.now() + this.#spacingMs));
        },
        () => {},
      );
    });
  }
}

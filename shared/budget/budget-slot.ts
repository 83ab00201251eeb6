import type { LimiterSlot } from '../cams';
import type { Clock } from '../clock';

/**
 * A granted call's slot in the account's budget. The budget counts a call in the bucket of its
 * stamp; CAMS counts a call when it arrives, which may be anywhere between its send and its
 * answer. A call whose answer comes more than `allowanceMs` after its stamp (abnormally late: the
 * budget takes a window) may have arrived where decisions that no longer reach its stamp look, so
 * settling it counts it once more, where it ended: decisions made from then on see it wherever
 * CAMS may have counted it. While it is in flight it is also counted again every `recountEveryMs`
 * (less than the reach, so each count lands before the one before leaves it): a call stuck in transit may arrive at any
 * moment, and so stays in every window a decision reads until its answer. Normal calls cost
 * nothing more; a slot released because its call was never sent counts nothing. A call whose
 * connection to CAMS was set up more than `connectAllowanceMs` after its stamp (a cold
 * connection: DNS, TCP and TLS) is counted again once, when the connection is up: its request is
 * written right then, so its arrival falls within that count's reach.
 *
 * Each count again names the count before it (`previousCountAt`): decisions made more than a reach
 * after that one no longer see it, so the new count must have landed by then. The budget's
 * `settled()` waits that long for it, since FC freezes an instance once it has answered and a
 * count still pending then lands only when the instance runs again, if ever.
 */
export class BudgetSlot implements LimiterSlot {
  readonly #stampedAt: number;
  readonly #clock: Clock;
  readonly #allowanceMs: number;
  readonly #connectAllowanceMs: number;
  #isCountedAtConnect = false;
  /** When the call was last counted: its stamp, then each count again. */
  #lastCountAt: number;
  readonly #countAgain: (at: number, previousCountAt: number) => void;
  readonly #local: LimiterSlot | undefined;
  /** Ends the in-flight counts once the slot is settled or released. */
  readonly #over = new AbortController();

  constructor(options: {
    readonly stampedAt: number;
    readonly clock: Clock;
    readonly allowanceMs: number;
    /** A connection set up later than this after the stamp counts the call again (once). */
    readonly connectAllowanceMs: number;
    /** While the call is in flight, it is counted again this long after its stamp, and every this long after. */
    readonly recountEveryMs: number;
    /** The in-flight counts end this long after the stamp even if the slot is never settled. */
    readonly maxInFlightMs: number;
    /**
     * Counts the call again at `at`, its previous count made at `previousCountAt`; must not throw
     * (it is not awaited; the budget tracks it).
     */
    readonly countAgain: (at: number, previousCountAt: number) => void;
    /** The local limiter's token the call also holds (the fallback's), settled or released with it. */
    readonly local?: LimiterSlot | undefined;
  }) {
    this.#stampedAt = options.stampedAt;
    this.#clock = options.clock;
    this.#allowanceMs = options.allowanceMs;
    this.#connectAllowanceMs = options.connectAllowanceMs;
    this.#lastCountAt = options.stampedAt;
    this.#countAgain = options.countAgain;
    this.#local = options.local;
    void this.#countWhileInFlight(options.recountEveryMs, options.maxInFlightMs);
  }

  async #countWhileInFlight(everyMs: number, maxInFlightMs: number): Promise<void> {
    for (let at = this.#stampedAt + everyMs; at <= this.#stampedAt + maxInFlightMs; at += everyMs) {
      try {
        await this.#clock.sleep(Math.max(0, at - this.#clock.now()), this.#over.signal);
      } catch {
        return;
      }
      if (this.#over.signal.aborted) return;
      this.#count();
    }
  }

  #count(): void {
    const at = this.#clock.now();
    this.#countAgain(at, this.#lastCountAt);
    this.#lastCountAt = at;
  }

  /** A new connection to CAMS is up at `atMs`, while the call is in flight; the request follows it at once. */
  connected(atMs: number): void {
    if (this.#over.signal.aborted || this.#isCountedAtConnect) return;
    if (atMs - this.#stampedAt <= this.#connectAllowanceMs) return;
    this.#isCountedAtConnect = true;
    this.#count();
  }

  /** The answer (or failure, timeout, abort of a sent call) is in. Only the first of settle/release counts. */
  settle(): void {
    if (this.#over.signal.aborted) return;
    this.#over.abort();
    this.#local?.settle();
    if (this.#clock.now() - this.#stampedAt > this.#allowanceMs) this.#count();
  }

  /** The call was never sent: nothing more to count, and the local token costs nothing. */
  release(): void {
    if (this.#over.signal.aborted) return;
    this.#over.abort();
    this.#local?.release();
  }
}

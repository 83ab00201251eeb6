import type { LimiterSlot } from '../cams';
import type { Clock } from '../clock';

/**
 * A granted call's slot in the account's budget. The budget counts a call in the bucket of its
 * stamp; CAMS counts a call when it arrives, which may be anywhere between its send and its
 * answer. A call whose answer comes more than `allowanceMs` after its stamp (abnormally late: the
 * budget takes a window) may have arrived where decisions that no longer reach its stamp look, so
 * settling it counts it once more, where it ended: decisions made from then on see it wherever
 * CAMS may have counted it. Normal calls cost nothing more; a slot released because its call was
 * never sent counts nothing.
 */
export class BudgetSlot implements LimiterSlot {
  readonly #stampedAt: number;
  readonly #clock: Clock;
  readonly #allowanceMs: number;
  readonly #countAgain: (at: number) => void;
  readonly #local: LimiterSlot | undefined;
  #isOver = false;

  constructor(options: {
    readonly stampedAt: number;
    readonly clock: Clock;
    readonly allowanceMs: number;
    /** Counts the call again at `at`; must not throw or reject (it is not awaited). */
    readonly countAgain: (at: number) => void;
    /** The local limiter's token the call also holds (the fallback's), settled or released with it. */
    readonly local?: LimiterSlot | undefined;
  }) {
    this.#stampedAt = options.stampedAt;
    this.#clock = options.clock;
    this.#allowanceMs = options.allowanceMs;
    this.#countAgain = options.countAgain;
    this.#local = options.local;
  }

  /** The answer (or failure, timeout, abort of a sent call) is in. Only the first of settle/release counts. */
  settle(): void {
    if (this.#isOver) return;
    this.#isOver = true;
    this.#local?.settle();
    const settledAt = this.#clock.now();
    if (settledAt - this.#stampedAt > this.#allowanceMs) this.#countAgain(settledAt);
  }

  /** The call was never sent: nothing more to count, and the local token costs nothing. */
  release(): void {
    if (this.#isOver) return;
    this.#isOver = true;
    this.#local?.release();
  }
}

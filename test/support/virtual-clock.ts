import type { Clock } from '../../shared/clock';

/**
 * A clock whose `sleep` resolves in virtual time: sleepers wake in deadline order as soon as
 * every earlier one has run, so minutes of rate-limited work take milliseconds.
 */
export class VirtualClock implements Clock {
  #now: number;
  #sleepers: Array<{ wakeAt: number; resolve: () => void; seq: number }> = [];
  #seq = 0;
  #scheduled = false;

  readonly #isBusy: () => boolean;

  /**
   * `isBusy` lets real I/O finish before time moves: while it returns true (say, HTTP calls
   * in flight), no sleeper wakes, so a loopback request takes zero virtual time.
   */
  constructor(startMs = Date.UTC(2026, 10, 25, 12, 0, 0), options: { isBusy?: () => boolean } = {}) {
    this.#now = startMs;
    this.#isBusy = options.isBusy ?? (() => false);
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const sleeper = { wakeAt: this.#now + Math.max(0, ms), resolve, seq: this.#seq++ };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.#sleepers = this.#sleepers.filter((entry) => entry !== sleeper);
          reject(signal.reason);
        },
        { once: true },
      );
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Let pending I/O and microtasks run first, so sleepers only wake when nothing else can.
    setImmediate(() => {
      this.#scheduled = false;
      this.#wakeNext();
    });
  }

  #wakeNext(): void {
    if (this.#sleepers.length === 0) return;
    if (this.#isBusy()) {
      this.#scheduled = true;
      setTimeout(() => {
        this.#scheduled = false;
        this.#wakeNext();
      }, 0);
      return;
    }
    this.#sleepers.sort((a, b) => a.wakeAt - b.wakeAt || a.seq - b.seq);
    const next = this.#sleepers.shift();
    if (!next) return;
    this.#now = Math.max(this.#now, next.wakeAt);
    next.resolve();
    this.#schedule();
  }
}

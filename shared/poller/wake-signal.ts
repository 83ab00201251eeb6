import type { Clock } from '../clock';

/**
 * Wakes whoever waits for news (check workers with nothing due while discovery may still find
 * flows): `wait` ends at the next `tell`, or after `ms` on the clock, whichever comes first. The
 * timed sleep is cancelled when news comes, so no sleeper is left behind on the clock (a virtual
 * clock would otherwise jump to it whenever nothing is in flight).
 */
export class WakeSignal {
  #news: Promise<void>;
  #tell: () => void = () => undefined;

  constructor(private readonly clock: Clock) {
    this.#news = this.#next();
  }

  tell(): void {
    const tell = this.#tell;
    this.#news = this.#next();
    tell();
  }

  /** Waits for news, or at most `ms` when given (no timer at all when not). */
  async wait(ms?: number): Promise<void> {
    if (ms === undefined) return this.#news;
    const cancel = new AbortController();
    try {
      await Promise.race([this.clock.sleep(ms, cancel.signal).catch(() => undefined), this.#news]);
    } finally {
      cancel.abort();
    }
  }

  #next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#tell = resolve;
    });
  }
}

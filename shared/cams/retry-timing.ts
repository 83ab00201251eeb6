export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, capMs: 5000 };

/**
 * "Full jitter" exponential backoff (AWS architecture blog, 2015): a uniformly random wait up to
 * the exponential ceiling, which spreads retries of many instances that failed together.
 * `attempt` is the 1-based number of the attempt that just failed.
 */
export function backoffDelayMs(attempt: number, random: () => number, options = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

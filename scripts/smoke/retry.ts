export interface RetryOptions {
  /** How long to keep trying while FC answers 429, counted from the first attempt. */
  readonly windowMs: number;
  /** The first wait; each next one doubles, up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Epoch milliseconds: the window is measured on this clock. */
  readonly nowMs: () => number;
  readonly onRetry?: (attempt: number, delayMs: number, elapsedMs: number) => void;
}

/**
 * Repeats `attempt` while it reports FC's 429: a function at its reservedConcurrency refuses the
 * next concurrent request instead of queueing it (the poller runs one at a time, so a timer run
 * in flight refuses the smoke check's invocation). Anything else is final, and so is the 429 that
 * comes once the window is spent (the last attempt lands at its end).
 */
export async function retryOn429<T>(
  attempt: () => Promise<T>,
  isThrottled: (outcome: { value?: T; error?: unknown }) => boolean,
  options: RetryOptions,
): Promise<T> {
  const startedAt = options.nowMs();
  for (let number = 1; ; number += 1) {
    let outcome: { value?: T; error?: unknown };
    try {
      outcome = { value: await attempt() };
    } catch (error) {
      outcome = { error };
    }
    const elapsedMs = options.nowMs() - startedAt;
    if (elapsedMs >= options.windowMs || !isThrottled(outcome)) {
      if ('error' in outcome) throw outcome.error;
      return outcome.value as T;
    }
    const delayMs = Math.min(
      options.baseDelayMs * 2 ** (number - 1),
      options.maxDelayMs,
      options.windowMs - elapsedMs,
    );
    options.onRetry?.(number, delayMs, elapsedMs);
    await options.sleep(delayMs);
  }
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly onRetry?: (attempt: number, delayMs: number) => void;
}

/**
 * Repeats `attempt` while it reports FC's 429: a function at its reservedConcurrency refuses the
 * next concurrent request instead of queueing it (the poller runs one at a time, so a timer run
 * in flight refuses the smoke check's invocation). Anything else is final.
 */
export async function retryOn429<T>(
  attempt: () => Promise<T>,
  isThrottled: (outcome: { value?: T; error?: unknown }) => boolean,
  options: RetryOptions,
): Promise<T> {
  for (let number = 1; ; number += 1) {
    let outcome: { value?: T; error?: unknown };
    try {
      outcome = { value: await attempt() };
    } catch (error) {
      outcome = { error };
    }
    if (number >= options.attempts || !isThrottled(outcome)) {
      if ('error' in outcome) throw outcome.error;
      return outcome.value as T;
    }
    const delayMs = options.baseDelayMs * 2 ** (number - 1);
    options.onRetry?.(number, delayMs);
    await options.sleep(delayMs);
  }
}

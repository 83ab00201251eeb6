import { setTimeout as delay } from 'node:timers/promises';

/**
 * Time as the core sees it. Injected everywhere that waits or stamps, so tests can run
 * minutes of rate-limited polling in virtual time without sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
  },
};

/**
 * `work`'s result, or undefined once `ms` have passed on `clock` first; `work` itself goes on
 * (a store call that lands late still counts). Its rejection, if it comes first, is passed on.
 */
export async function within<T>(clock: Clock, ms: number, work: Promise<T>): Promise<T | undefined> {
  const giveUp = new AbortController();
  const outOfTime = clock.sleep(ms, giveUp.signal).then(
    () => undefined,
    () => undefined,
  );
  try {
    return await Promise.race([work, outOfTime]);
  } finally {
    giveUp.abort();
  }
}

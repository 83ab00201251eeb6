import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../shared/cams/rate-limiter';
import { VirtualClock } from '../support/virtual-clock';

function maxInAnyWindow(starts: readonly number[], windowMs: number): number {
  let max = 0;
  for (let i = 0; i < starts.length; i += 1) {
    const start = starts[i] ?? 0;
    const inWindow = starts.filter((at) => at >= start && at < start + windowMs).length;
    max = Math.max(max, inWindow);
  }
  return max;
}

describe('rate limiter', () => {
  it('never lets more than the limit start in any rolling second, even after a burst', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 5, clock, marginMs: 0 });
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const slot = await limiter.acquire();
        starts.push(clock.now());
        slot.settle();
      }),
    );
    expect(starts).toHaveLength(50);
    expect(maxInAnyWindow(starts, 1000)).toBe(5);
    // And it spends the budget fully: 50 calls at 5/s take 9 windows after the first burst.
    expect(Math.max(...starts) - Math.min(...starts)).toBe(9000);
  });

  it('never lets more than the limit arrive in any rolling second, whatever the transit times', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({
            gapMs: fc.integer({ min: 0, max: 700 }),
            transitMs: fc.integer({ min: 0, max: 400 }),
            answerMs: fc.integer({ min: 0, max: 400 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (limit, calls) => {
          const clock = new VirtualClock();
          const limiter = new RateLimiter({ limit, clock });
          const arrivals: number[] = [];
          let sentAtMs = 0;
          await Promise.all(
            calls.map(async ({ gapMs, transitMs, answerMs }) => {
              sentAtMs += gapMs;
              await clock.sleep(sentAtMs);
              const slot = await limiter.acquire();
              try {
                await clock.sleep(transitMs);
                arrivals.push(clock.now());
                await clock.sleep(answerMs);
              } finally {
                slot.settle();
              }
            }),
          );
          expect(maxInAnyWindow(arrivals, 1000)).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('starts the next call on a token one window after the answer to the last one, not after its send', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    const first = await limiter.acquire();
    const second = limiter.acquire().then((slot) => {
      slot.settle();
      return clock.now() - startedAt;
    });
    await clock.sleep(300);
    first.settle();
    expect(await second).toBe(1300);
  });

  it('keeps the successor waiting while a token is unsettled', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    await limiter.acquire();
    let hasStarted = false;
    void limiter.acquire().then(() => {
      hasStarted = true;
    });
    await clock.sleep(60_000);
    expect(hasStarted).toBe(false);
  });

  it('frees a token settled on failure like one settled on success', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    await expect(
      (async () => {
        const slot = await limiter.acquire();
        try {
          await clock.sleep(200);
          throw new Error('connection reset');
        } finally {
          slot.settle();
        }
      })(),
    ).rejects.toThrow('connection reset');
    (await limiter.acquire()).settle();
    expect(clock.now() - startedAt).toBe(1200);
  });

  it('ignores every settle after the first', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    const first = await limiter.acquire();
    first.settle();
    await clock.sleep(700);
    first.settle();
    (await limiter.acquire()).settle();
    expect(clock.now() - startedAt).toBe(1000);
  });

  it('refuses a slot it cannot give before the latest start, without spending budget', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    (await limiter.acquire()).settle();
    await expect(limiter.acquire({ latestStartAt: clock.now() + 500 })).rejects.toThrow(/deadline/);
    const before = clock.now();
    (await limiter.acquire()).settle();
    expect(clock.now() - before).toBe(1000);
  });

  it('gives up at the deadline while the previous answer is still out, and reserves nothing', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    const first = await limiter.acquire();
    const refused = limiter.acquire({ latestStartAt: startedAt + 1500 });
    const refusedAt = refused.catch(() => clock.now() - startedAt);
    await expect(refused).rejects.toMatchObject({ name: 'RateLimitWaitTooLongError' });
    // Unanswered 500 ms in, the token cannot be free before 1500 ms: no point waiting on.
    expect(await refusedAt).toBe(500);
    await clock.sleep(1500);
    first.settle();
    (await limiter.acquire()).settle();
    expect(clock.now() - startedAt).toBe(3000);
  });

  it('passes the token on untouched when a waiter is aborted', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    const first = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire({ signal: controller.signal });
    const third = limiter.acquire().then((slot) => {
      slot.settle();
      return clock.now() - startedAt;
    });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    await clock.sleep(100);
    first.settle();
    expect(await third).toBe(1100);
  });

  it('hands the predecessor time on when a granted call is never sent (released), not a window from now', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    (await limiter.acquire()).settle();
    const unsent = await limiter.acquire();
    expect(clock.now() - startedAt).toBe(1000);
    // Say the account's budget then refused it: nothing went out.
    await clock.sleep(300);
    unsent.release();
    (await limiter.acquire()).settle();
    // Free when the first call's token was (now, 1300 ms in), not at 1300 + 1000 ms.
    expect(clock.now() - startedAt).toBe(1300);
  });

  it('counts whichever of settle and release comes first, and ignores the rest', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    const startedAt = clock.now();
    const sent = await limiter.acquire();
    await clock.sleep(200);
    sent.settle();
    sent.release();
    const unsent = await limiter.acquire();
    expect(clock.now() - startedAt).toBe(1200);
    unsent.release();
    unsent.settle();
    (await limiter.acquire()).settle();
    // The release stood: the third starts on the first call's time, not a window after the second.
    expect(clock.now() - startedAt).toBe(1200);
  });

  it('costs the same per call at any limit: the ring holds one token per allowed call', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1_000_000, clock });
    const startedAt = clock.now();
    for (let call = 0; call < 10_000; call += 1) (await limiter.acquire()).settle();
    expect(clock.now()).toBe(startedAt);
  });

  it('rejects a non-positive limit', () => {
    expect(() => new RateLimiter({ limit: 0, clock: new VirtualClock() })).toThrow(RangeError);
  });
});

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
        await limiter.acquire();
        starts.push(clock.now());
      }),
    );
    expect(starts).toHaveLength(50);
    expect(maxInAnyWindow(starts, 1000)).toBe(5);
    // And it spends the budget fully: 50 calls at 5/s take 9 windows after the first burst.
    expect(Math.max(...starts) - Math.min(...starts)).toBe(9000);
  });

  it('holds for any arrival pattern', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 40 }),
        async (limit, gaps) => {
          const clock = new VirtualClock();
          const limiter = new RateLimiter({ limit, clock });
          const starts: number[] = [];
          let arrivalMs = 0;
          const calls = gaps.map(async (gap) => {
            arrivalMs += gap;
            await clock.sleep(arrivalMs);
            await limiter.acquire();
            starts.push(clock.now());
          });
          await Promise.all(calls);
          expect(maxInAnyWindow(starts, 1000)).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a slot it cannot give before the latest start, without spending budget', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock, marginMs: 0 });
    await limiter.acquire();
    await expect(limiter.acquire({ latestStartAt: clock.now() + 500 })).rejects.toThrow(/deadline/);
    const before = clock.now();
    await limiter.acquire();
    expect(clock.now() - before).toBe(1000);
  });

  it('stops waiting when aborted', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ limit: 1, clock });
    await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire({ signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
  });

  it('rejects a non-positive limit', () => {
    expect(() => new RateLimiter({ limit: 0, clock: new VirtualClock() })).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import type { SourcedFlow } from '../../functions/http/answer';
import { FlowCache } from '../../functions/http/flow-cache';
import type { Flow } from '../../shared/cams';
import { VirtualClock } from '../support/virtual-clock';

/** A CAMS answer whose own freshness never binds, so the cache's rules are what is tested. */
function answerExpiringAt(expiresAtMs: number, status = 'PUBLISHED'): SourcedFlow {
  return {
    flow: flowExpiringAt(expiresAtMs, status),
    readAt: 0,
    freshUntil: Number.POSITIVE_INFINITY,
    source: 'cams',
  };
}

function flowExpiringAt(expiresAtMs: number, status = 'PUBLISHED'): Flow {
  return {
    flowId: '926753328126431',
    flowName: 'sign_up',
    status,
    categories: [],
    jsonVersion: '3.1',
    dataApiVersion: '3.0',
    previewUrl: `https://preview.example/${expiresAtMs}`,
    previewUrlExpiresAt: new Date(expiresAtMs).toISOString(),
    requestId: 'req',
  };
}

describe('FlowCache', () => {
  it('serves an answer for the TTL and loads again after it', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 5000, clock });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return answerExpiringAt(clock.now() + 3_600_000);
    };
    expect((await cache.get('k', load)).hit).toBe(false);
    clock.advance(4999);
    const cached = await cache.get('k', load);
    expect(cached).toMatchObject({ hit: true });
    expect(cached.expiresAt - clock.now()).toBe(1);
    clock.advance(1);
    expect((await cache.get('k', load)).hit).toBe(false);
    expect(loads).toBe(2);
  });

  it('never keeps an answer past its preview URL expiry', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 60_000, clock });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return answerExpiringAt(clock.now() + 1000);
    };
    const first = await cache.get('k', load);
    expect(first.expiresAt).toBe(clock.now() + 1000);
    clock.advance(1000);
    const renewed = await cache.get('k', load);
    expect(renewed.hit).toBe(false);
    expect(renewed.answer.flow.previewUrl).not.toBe(first.answer.flow.previewUrl);
    expect(loads).toBe(2);
  });

  it('does not cache an already-expired preview URL', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 60_000, clock });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return answerExpiringAt(clock.now() - 1);
    };
    await cache.get('k', load);
    await cache.get('k', load);
    expect(loads).toBe(2);
  });

  it('coalesces concurrent misses into one load, and shares its failure without caching it', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 5000, clock });
    let loads = 0;
    let release: (answer: SourcedFlow) => void = () => {};
    const load = () => {
      loads += 1;
      return new Promise<SourcedFlow>((resolve) => {
        release = resolve;
      });
    };
    const answers = Promise.all(Array.from({ length: 20 }, () => cache.get('k', load)));
    release(answerExpiringAt(clock.now() + 3_600_000));
    const settled = await answers;
    expect(loads).toBe(1);
    expect(settled.filter((answer) => !answer.collapsed)).toHaveLength(1);
    expect(settled.every((answer) => !answer.hit)).toBe(true);
    expect(settled.every((answer) => answer.isStored)).toBe(true);

    const failing = async (): Promise<SourcedFlow> => {
      loads += 1;
      throw new Error('upstream down');
    };
    const results = await Promise.allSettled([cache.get('other', failing), cache.get('other', failing)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(2);
    await expect(cache.get('other', failing)).rejects.toThrow('upstream down');
    expect(loads).toBe(3);
  });

  it('never keeps an answer past its own freshness, and skips a cached answer the request turns down', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 60_000, clock });
    const watched = { ...answerExpiringAt(clock.now() + 3_600_000), freshUntil: clock.now() + 2000 };
    expect((await cache.get('k', async () => watched)).expiresAt).toBe(clock.now() + 2000);
    expect((await cache.get('k', async () => watched)).hit).toBe(true);
    expect(
      (
        await cache.get(
          'k',
          async () => watched,
          () => false,
        )
      ).hit,
    ).toBe(false);
  });

  it('says an answer is stored only when it keeps one (a TTL of 0, an expired preview URL keep none)', async () => {
    const clock = new VirtualClock();
    const load = async () => answerExpiringAt(clock.now() + 3_600_000);
    expect((await new FlowCache({ ttlMs: 5000, clock }).get('k', load)).isStored).toBe(true);
    const none = new FlowCache({ ttlMs: 0, clock });
    expect((await none.get('k', load)).isStored).toBe(false);
    expect((await none.get('k', load)).hit).toBe(false);
    const expired = async () => answerExpiringAt(clock.now() - 1);
    expect((await new FlowCache({ ttlMs: 5000, clock }).get('k', expired)).isStored).toBe(false);
  });

  it('keeps separate entries per key', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 5000, clock });
    const a = await cache.get('a', async () => answerExpiringAt(clock.now() + 60_000, 'DRAFT'));
    const b = await cache.get('b', async () => answerExpiringAt(clock.now() + 60_000, 'BLOCKED'));
    expect([a.answer.flow.status, b.answer.flow.status]).toEqual(['DRAFT', 'BLOCKED']);
  });
});

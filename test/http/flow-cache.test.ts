import { describe, expect, it } from 'vitest';
import { FlowCache } from '../../functions/http/flow-cache';
import type { Flow } from '../../shared/cams';
import { VirtualClock } from '../support/virtual-clock';

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
      return flowExpiringAt(clock.now() + 3_600_000);
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
      return flowExpiringAt(clock.now() + 1000);
    };
    const first = await cache.get('k', load);
    expect(first.expiresAt).toBe(clock.now() + 1000);
    clock.advance(1000);
    const renewed = await cache.get('k', load);
    expect(renewed.hit).toBe(false);
    expect(renewed.flow.previewUrl).not.toBe(first.flow.previewUrl);
    expect(loads).toBe(2);
  });

  it('does not cache an already-expired preview URL', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 60_000, clock });
    let loads = 0;
    const load = async () => {
      loads += 1;
      return flowExpiringAt(clock.now() - 1);
    };
    await cache.get('k', load);
    await cache.get('k', load);
    expect(loads).toBe(2);
  });

  it('coalesces concurrent misses into one load, and shares its failure without caching it', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 5000, clock });
    let loads = 0;
    let release: (flow: Flow) => void = () => {};
    const load = () => {
      loads += 1;
      return new Promise<Flow>((resolve) => {
        release = resolve;
      });
    };
    const answers = Promise.all(Array.from({ length: 20 }, () => cache.get('k', load)));
    release(flowExpiringAt(clock.now() + 3_600_000));
    const settled = await answers;
    expect(loads).toBe(1);
    expect(settled.filter((answer) => !answer.hit)).toHaveLength(1);

    const failing = async (): Promise<Flow> => {
      loads += 1;
      throw new Error('upstream down');
    };
    const results = await Promise.allSettled([cache.get('other', failing), cache.get('other', failing)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(loads).toBe(2);
    await expect(cache.get('other', failing)).rejects.toThrow('upstream down');
    expect(loads).toBe(3);
  });

  it('keeps separate entries per key', async () => {
    const clock = new VirtualClock();
    const cache = new FlowCache({ ttlMs: 5000, clock });
    const a = await cache.get('a', async () => flowExpiringAt(clock.now() + 60_000, 'DRAFT'));
    const b = await cache.get('b', async () => flowExpiringAt(clock.now() + 60_000, 'BLOCKED'));
    expect([a.flow.status, b.flow.status]).toEqual(['DRAFT', 'BLOCKED']);
  });
});

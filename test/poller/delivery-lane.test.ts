import { describe, expect, it } from 'vitest';
import { DeliveryLane } from '../../shared/poller/delivery-lane';

/** Deliveries that end when the test says, recording when each starts. */
function gatedDeliveries() {
  const started: string[] = [];
  const finish = new Map<string, Array<() => void>>();
  return {
    started,
    deliver: (key: string) => {
      started.push(key);
      return new Promise<void>((resolve) => finish.set(key, [...(finish.get(key) ?? []), resolve]));
    },
    finish: (key: string) => finish.get(key)?.shift()?.(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('delivery lane', () => {
  it('runs up to its concurrency in the order added, one delivery per flow at a time', async () => {
    const gated = gatedDeliveries();
    const lane = new DeliveryLane({ concurrency: 2, deliver: gated.deliver, shouldStop: () => false });
    for (const key of ['a', 'b', 'c']) lane.add(key);
    lane.add('a');
    await tick();
    expect(gated.started).toEqual(['a', 'b']);
    gated.finish('a');
    await tick();
    // 'a' was queued again while it ran: it goes after 'c', never beside itself.
    expect(gated.started).toEqual(['a', 'b', 'c']);
    gated.finish('b');
    await tick();
    expect(gated.started).toEqual(['a', 'b', 'c', 'a']);
    gated.finish('c');
    gated.finish('a');
    await lane.idle();
  });

  it('starts nothing once told to stop; what is queued stays for the next run', async () => {
    const gated = gatedDeliveries();
    let isStopping = false;
    const lane = new DeliveryLane({ concurrency: 1, deliver: gated.deliver, shouldStop: () => isStopping });
    lane.add('a');
    lane.add('b');
    isStopping = true;
    gated.finish('a');
    await lane.idle();
    expect(gated.started).toEqual(['a']);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { SimFlow } from '../../local/cams-simulator';
import { answeredAt, worstGapMs } from './check-gaps';
import { type PollerWorld, startPollerWorld } from './harness';

const SPACE = 'cams-grow';
const INTERVALS = 'BLOCKED=30,THROTTLED=30,PUBLISHED=60,DEPRECATED=3600,*=60';

/** Every tenth flow BLOCKED, every tenth THROTTLED, the rest PUBLISHED, unless `status` is given. */
function spaceFlows(from: number, count: number, status?: string): SimFlow[] {
  return Array.from({ length: count }, (_, offset) => {
    const index = from + offset;
    const mixed = index % 10 === 0 ? 'BLOCKED' : index % 10 === 1 ? 'THROTTLED' : 'PUBLISHED';
    return {
      flowId: String(800000000000000 + index),
      flowName: `f${index}`,
      status: status ?? mixed,
      custSpaceId: SPACE,
    };
  });
}

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('a growing flow list', () => {
  it('does not hold overdue BLOCKED flows back for the first checks of 1000 new flows, and baselines them at a bounded share', async () => {
    const existing = spaceFlows(0, 100);
    world = await startPollerWorld({
      flows: existing,
      watch: '',
      custSpaces: SPACE,
      discoveryIntervalS: 0,
      intervals: INTERVALS,
    });
    const startedAt = world.clock.now();
    const runAt = async (minute: number) => {
      const due = startedAt + minute * 60_000;
      if (world && world.clock.now() < due) world.clock.advance(due - world.clock.now());
      return world?.run();
    };
    for (let minute = 0; minute < 3; minute += 1) await runAt(minute);
    const grownAt = startedAt + 3 * 60_000;
    // A discovery finds 1000 old DEPRECATED flows: once baselined they cost little (hourly), so
    // the grown list fits the budget and only their first checks compete with the 100.
    const added = spaceFlows(100, 1000, 'DEPRECATED');
    for (const flow of added) world.simulator.setFlow(flow);
    for (let minute = 3; minute < 8; minute += 1) await runAt(minute);
    const endAt = startedAt + 8 * 60_000;

    const answered = answeredAt(world.simulator.calls);
    const worstBlockedGap = Math.max(
      ...existing
        .filter((flow) => flow.status === 'BLOCKED')
        .map((flow) => worstGapMs(answered.get(flow.flowId) ?? [], grownAt, endAt)),
    );
    // BLOCKED every 30 s, plus the 22 ListFlow pages each run starts with now and the flows that
    // come due with it (measured 38–40 s; 30 s before the growth). When first checks all came
    // first, 321 s.
    expect(worstBlockedGap).toBeLessThanOrEqual(45_000);
    const baselined = added.filter((flow) => answered.has(flow.flowId)).length;
    const checksSinceGrowth = world.simulator.calls.filter(
      (call) => call.action === 'GetFlow' && call.at >= grownAt,
    ).length;
    // First checks take every pick the closely watched (BLOCKED, THROTTLED) flows leave, and at
    // least half while those wait too.
    expect(baselined).toBeGreaterThanOrEqual(checksSinceGrowth / 2);
    expect(baselined).toBeLessThan(added.length);
  }, 120_000);
});

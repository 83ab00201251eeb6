import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../shared/poller';
import { flowsInSpace, listFlowCalls, type PollerWorld, startPollerWorld } from './harness';

const SPACE = 'space-a';
const flows = flowsInSpace(SPACE, 120, 980000000000000);

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const listCalls = listFlowCalls;
const records = async (w: PollerWorld) => (await w.store.list<FlowRecord>('flow/')).length;

/** Rewrites the `page`-th ListFlow answer (1-based, counted across the whole test) with `change`. */
function rewritePage(
  w: PollerWorld,
  page: number,
  change: (data: Array<Record<string, unknown>>) => unknown,
): void {
  let seen = 0;
  w.simulator.injectFault(
    {
      kind: 'answer',
      rewrite: (answer) => {
        seen += 1;
        return seen === page
          ? { ...answer, Data: change(answer.Data as Array<Record<string, unknown>>) }
          : answer;
      },
    },
    { action: 'ListFlow' },
  );
}

describe('poller discovery against hostile ListFlow pages', () => {
  it.each([
    ['an empty FlowId', { FlowId: '', FlowName: 'x' }],
    ['a null FlowId', { FlowId: null }],
    ['a numeric FlowId', { FlowId: 12345 }],
    ['an entry that is no object', 'oops'],
  ])('one entry with %s costs neither its page nor the listing', async (_, entry) => {
    world = await startPollerWorld({ flows, pollQps: 5, watch: '', custSpaces: SPACE });
    rewritePage(world, 3, (data) => [...data, entry]);
    const summary = await world.run();
    expect(summary).toMatchObject({ flowsChecked: 120, failed: 0 });
    expect(await records(world)).toBe(120);
    expect(world.logs).toContainEqual(
      expect.objectContaining({ msg: 'ListFlow sent flow ids no GetFlow accepts; ignored', count: 1 }),
    );
    const saved = await world.store.get<{ flowIds: string[] }>(`discovery/${SPACE}`);
    expect(saved?.value.flowIds).toHaveLength(120);
  });

  it('keeps a flow whose FlowName is of the wrong type, without its name', async () => {
    world = await startPollerWorld({ flows: flows.slice(0, 3), pollQps: 5, watch: '', custSpaces: SPACE });
    rewritePage(world, 1, (data) =>
      data.map((flow, index) => (index === 1 ? { ...flow, FlowName: 42 } : flow)),
    );
    expect(await world.run()).toMatchObject({ flowsChecked: 3, failed: 0 });
  });

  it('a page failing after the first ends the listing incomplete, keeping what the pages before it found', async () => {
    world = await startPollerWorld({ flows, pollQps: 5, watch: '', custSpaces: SPACE });
    rewritePage(world, 3, () => 'broken');
    const summary = await world.run();
    expect(summary.flowsChecked).toBe(100);
    expect(world.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'flow discovery stopped early: a later page failed',
        custSpaceId: SPACE,
        found: 100,
      }),
    );
    // Incomplete: what it found is kept, and the space stays due, so the next run lists it again and finds the rest.
    const kept = await world.store.get<{ lastRunAt: number; flowIds: string[] }>(`discovery/${SPACE}`);
    expect(kept?.value).toMatchObject({
      lastRunAt: 0,
      flowIds: flows.slice(0, 100).map((flow) => flow.flowId),
    });
    world.simulator.clearFaults();
    world.clock.advance(61_000);
    await world.run();
    expect(await records(world)).toBe(120);
    expect(listCalls(world)).toBe(6);
  });

  it('a full page of ids no GetFlow takes is no repeat: the pages after it are still listed', async () => {
    world = await startPollerWorld({ flows, pollQps: 5, watch: '', custSpaces: SPACE });
    rewritePage(world, 2, (data) =>
      data.map((flow) => ({ ...flow, FlowId: `flow id ${String(flow.FlowId)}` })),
    );
    const summary = await world.run();
    // Pages 1 and 3: 50 + 20 flows; page 2's 50 ids are counted and never stored.
    expect(summary).toMatchObject({ flowsChecked: 70, failed: 0 });
    expect(listCalls(world)).toBe(3);
    expect(world.logs).toContainEqual(
      expect.objectContaining({ msg: 'ListFlow sent flow ids no GetFlow accepts; ignored', count: 50 }),
    );
    expect(
      world.logs.filter((entry) => String(entry.msg).startsWith('flow discovery stopped early')),
    ).toEqual([]);
  });

  it('a page repeating earlier ids, usable or not, still ends the listing', async () => {
    world = await startPollerWorld({ flows, pollQps: 5, watch: '', custSpaces: SPACE });
    const unusable = Array.from({ length: 50 }, (_, index) => ({ FlowId: `bad id ${index}` }));
    world.simulator.injectFault(
      { kind: 'answer', rewrite: (answer) => ({ ...answer, Data: unusable }) },
      { action: 'ListFlow' },
    );
    await world.run();
    expect(listCalls(world)).toBe(2);
    expect(world.logs).toContainEqual(
      expect.objectContaining({
        msg: 'flow discovery stopped early: a page repeated earlier flows',
        found: 0,
      }),
    );
  });
});

/** Two flows listed once, then the space's discovery record re-dated `aheadMs` past the clock. */
async function listedThenDatedAhead(aheadMs: number): Promise<{ world: PollerWorld; lastRunAt: number }> {
  const started = await startPollerWorld({
    flows: flows.slice(0, 2),
    pollQps: 5,
    watch: '',
    custSpaces: SPACE,
    discoveryIntervalS: 600,
  });
  world = started;
  await started.run();
  const stored = await started.store.get<{ lastRunAt: number }>(`discovery/${SPACE}`);
  const lastRunAt = started.clock.now() + aheadMs;
  await started.store.put(`discovery/${SPACE}`, { ...stored?.value, lastRunAt }, stored?.version ?? 0);
  return { world: started, lastRunAt };
}

describe('poller discovery against a hostile discovery record', () => {
  it('lists again, logging it once, when the record is dated more than a day ahead', async () => {
    const { world: dated, lastRunAt } = await listedThenDatedAhead(365 * 24 * 3600_000);
    for (const flow of flows.slice(2, 5)) dated.simulator.setFlow(flow);
    dated.clock.advance(61_000);
    await dated.run();
    expect(await records(dated)).toBe(5);
    const warnings = () =>
      dated.logs.filter(
        (entry) => entry.msg === 'stored discovery record is dated more than a day ahead; listing again',
      );
    expect(warnings()).toEqual([
      expect.objectContaining({ level: 'warn', key: `discovery/${SPACE}`, lastRunAt }),
    ]);
    // The listing saved a believable date: the next run within DISCOVERY_INTERVAL_SECONDS neither lists nor warns.
    const lists = listCalls(dated);
    dated.clock.advance(61_000);
    await dated.run();
    expect(listCalls(dated)).toBe(lists);
    expect(warnings()).toHaveLength(1);
  });

  it.each([
    ['a huge nextPage', { nextPage: 1e300 }],
    ['a nextPage that is a string', { nextPage: '3' }],
    ['a negative nextPage', { nextPage: -4 }],
    ['a fractional nextPage', { nextPage: 2.5 }],
    ['a nextPage past the last page ListFlow is asked for', { nextPage: 201 }],
    ['a null nextPage', { nextPage: null }],
    ['a triedAt that is a string', { triedAt: 'yesterday' }],
    ['a triedAt far ahead', { triedAt: 8.64e15 }],
  ])('lists from page 1, without failing the run, a record with %s', async (_, hostile) => {
    world = await startPollerWorld({ flows, watch: '', custSpaces: SPACE, pollQps: 5 });
    await world.store.put(`discovery/${SPACE}`, { lastRunAt: 0, flowIds: [], ...hostile }, 0);
    const summary = await world.run();
    expect(summary.flowsChecked).toBe(flows.length);
    expect(await records(world)).toBe(flows.length);
  });

  it('keeps a record dated less than a day ahead (clock skew between instances)', async () => {
    const { world: skewed } = await listedThenDatedAhead(3600_000);
    const lists = listCalls(skewed);
    skewed.clock.advance(61_000);
    await skewed.run();
    expect(listCalls(skewed)).toBe(lists);
  });
});

describe('poller discovery within its share when ListFlow is throttled', () => {
  /** One space of `flowCount` flows at POLL_QPS=5 whose ListFlow answers `answered` pages, then refuses `throttled` calls. */
  async function throttledListing(
    flowCount: number,
    firstFlowId: number,
    answered: number,
    throttled: number,
  ) {
    const w = await startPollerWorld({
      flows: flowsInSpace(SPACE, flowCount, firstFlowId),
      watch: '',
      custSpaces: SPACE,
      pollQps: 5,
    });
    w.simulator.injectFault(
      { kind: 'answer', rewrite: (answer) => answer },
      { action: 'ListFlow', times: answered },
    );
    w.simulator.injectFault(
      { kind: 'error', code: 'Throttling.User' },
      { action: 'ListFlow', times: throttled },
    );
    return w;
  }

  it('counts retries of a throttled page against the share: no more ListFlow attempts than the share', async () => {
    world = await throttledListing(500, 970000000400000, 3, 3);
    await world.run({ timeoutS: 4 });
    // A 4 s run at POLL_QPS=5 keeps 0.5 s to save: a quarter of 17 calls is 4.
    expect(listCalls(world)).toBeLessThanOrEqual(4);
  });

  it('resumes, not restarts, a listing whose last affordable page was throttled', async () => {
    // 10 s runs at POLL_QPS=5: a share of 11 calls. Pages 1-10 answer; page 11, the share's last
    // call, is throttled once: no call is left to retry it, and it must not count as failing.
    world = await throttledListing(600, 970000000600000, 10, 1);
    await world.run({ timeoutS: 10 });
    const saved = (await world.store.get<{ nextPage?: number }>(`discovery/${SPACE}`))?.value;
    expect(saved?.nextPage).toBe(11);
    expect(world.logs.map((entry) => entry.msg)).toContain('flow discovery stopped early: call budget spent');
  });
});

describe('poller discovery of a cust space larger than a run’s share', () => {
  it('goes on where it stopped next run, after the spaces it starved', async () => {
    const big = flowsInSpace('space-big', 600, 980000000000000);
    const small = flowsInSpace('space-small', 3, 990000000000000);
    world = await startPollerWorld({
      flows: [...big, ...small],
      pollQps: 5,
      watch: '',
      custSpaces: 'space-big,space-small',
    });
    const w = world;
    // 10 s runs at POLL_QPS=5: a discovery share of 11 calls, 12 pages and an empty one needed.
    const listingsOfRun = async () => {
      const before = w.simulator.calls.length;
      await w.run({ timeoutS: 10 });
      w.clock.advance(61_000);
      return w.simulator.calls
        .slice(before)
        .filter((call) => call.action === 'ListFlow')
        .map((call) => call.custSpaceId);
    };
    const record = async (space: string) =>
      (await w.store.get<{ lastRunAt: number; flowIds: string[]; nextPage?: number }>(`discovery/${space}`))
        ?.value;

    expect(await listingsOfRun()).toEqual(Array(11).fill('space-big'));
    expect(await record('space-big')).toMatchObject({ lastRunAt: 0, nextPage: 12 });
    expect((await record('space-big'))?.flowIds).toHaveLength(550);
    expect(await record('space-small')).toBeUndefined();

    // The space never tried goes first; the big one goes on from page 12 to its end.
    expect(await listingsOfRun()).toEqual(['space-small', 'space-big', 'space-big']);
    const whole = await record('space-big');
    expect(whole?.flowIds).toHaveLength(600);
    expect(whole?.nextPage).toBeUndefined();
    expect(whole?.lastRunAt).toBeGreaterThan(0);
    expect((await record('space-small'))?.flowIds).toHaveLength(3);

    // Both listed: the one tried longest ago goes first, and the big one starts again at page 1.
    expect((await listingsOfRun()).slice(0, 2)).toEqual(['space-small', 'space-big']);
    expect(w.logs.filter((entry) => entry.msg === 'flow removed')).toEqual([]);
  });

  it('starts again at page 1 when a resumed listing’s first page fails', async () => {
    world = await startPollerWorld({
      flows: flowsInSpace(SPACE, 600, 980000000000000),
      pollQps: 5,
      watch: '',
      custSpaces: SPACE,
    });
    await world.run({ timeoutS: 10 });
    expect((await world.store.get<{ nextPage?: number }>(`discovery/${SPACE}`))?.value.nextPage).toBe(12);
    world.simulator.injectFault(
      { kind: 'error', code: 'Ram.PermissionDeny' },
      { action: 'ListFlow', times: 1 },
    );
    world.clock.advance(61_000);
    await world.run({ timeoutS: 10 });
    expect(world.logs).toContainEqual(
      expect.objectContaining({ msg: 'flow discovery failed; using the last list' }),
    );
    const after = await world.store.get<{ nextPage?: number; flowIds: string[] }>(`discovery/${SPACE}`);
    expect(after?.value.nextPage).toBeUndefined();
    expect(after?.value.flowIds).toHaveLength(550);
  });
});

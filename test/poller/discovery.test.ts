import { afterEach, describe, expect, it } from 'vitest';
import { type PollerWorld, startPollerWorld } from './harness';

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const inSpace = (index: number) => ({
  flowId: String(800000000000000 + index),
  custSpaceId: 'cams-space1',
  flowName: `space_flow_${index}`,
  status: 'PUBLISHED',
});

describe('poller discovery and removal', () => {
  it('discovers flows of WATCH_CUST_SPACES across pages, picks up new ones, reports vanished ones once', async () => {
    world = await startPollerWorld({
      flows: Array.from({ length: 60 }, (_, index) => inSpace(index)),
      watch: '',
      custSpaces: 'cams-space1',
      pollQps: 5,
    });
    const first = await world.run({ timeoutS: 30 });
    expect(first).toMatchObject({ flowsChecked: 60, changes: 0, failed: 0 });
    expect(world.simulator.calls.filter((call) => call.action === 'ListFlow').length).toBe(2);

    world.simulator.setFlow(inSpace(60));
    world.simulator.deleteFlow(inSpace(3).flowId, 'cams-space1');
    world.clock.advance(61_000);
    const second = await world.run({ timeoutS: 30 });
    expect(second.changes).toBe(1);
    const [removed] = world.delivered();
    expect(removed).toMatchObject({
      type: 'flow.removed',
      data: { flowId: inSpace(3).flowId, custSpaceId: 'cams-space1', previousStatus: 'PUBLISHED' },
    });
    expect(world.simulator.calls.some((call) => call.flowId === inSpace(60).flowId)).toBe(true);

    world.clock.advance(61_000);
    expect(await world.run({ timeoutS: 30 })).toMatchObject({ changes: 0, failed: 0 });
    expect(world.delivered()).toHaveLength(1);
  });

  it('discovers and checks a flow whose name is kilobytes long or multi-line, and the rest of its page', async () => {
    const flows = Array.from({ length: 10 }, (_, index) => inSpace(index));
    flows[4] = { ...inSpace(4), flowName: `two\nlines ${'n'.repeat(10_000)}` };
    world = await startPollerWorld({ flows, watch: '', custSpaces: 'cams-space1', pollQps: 4 });
    expect(await world.run({ timeoutS: 30 })).toMatchObject({ flowsChecked: 10, failed: 0 });
    world.simulator.setStatus(inSpace(4).flowId, 'BLOCKED', 'cams-space1');
    world.clock.advance(61_000);
    await world.run({ timeoutS: 30 });
    const [blocked] = world.delivered();
    expect(blocked).toMatchObject({ data: { flowId: inSpace(4).flowId, status: 'BLOCKED' } });
    expect(blocked?.data.flowName).toHaveLength(256);
    expect(blocked?.data.flowName?.startsWith('two lines')).toBe(true);
  });

  it('reports a watched flow that CAMS no longer knows as removed, once', async () => {
    world = await startPollerWorld({
      flows: [{ flowId: '700000000000001', flowName: 'solo', status: 'DRAFT' }],
    });
    await world.run();
    world.simulator.deleteFlow('700000000000001');
    for (let run = 0; run < 3; run += 1) {
      world.clock.advance(61_000);
      await world.run();
    }
    expect(world.delivered().map((event) => event.type)).toEqual(['flow.removed']);
  });

  it('stops sending to an endpoint that answered 410 and remembers it across runs', async () => {
    world = await startPollerWorld({
      flows: [{ flowId: '700000000000002', flowName: 'gone', status: 'PUBLISHED' }],
    });
    await world.run();
    world.receiver.setResponse(410);
    world.simulator.setStatus('700000000000002', 'THROTTLED');
    world.clock.advance(61_000);
    await world.run();
    const attempts = world.receiver.received.length;
    expect(attempts).toBe(1);
    expect(world.logs.some((entry) => entry.level === 'error' && /410/.test(entry.msg))).toBe(true);
    world.receiver.setResponse(200);
    world.simulator.setStatus('700000000000002', 'BLOCKED');
    world.clock.advance(61_000);
    const after = await world.run();
    expect(after).toMatchObject({ changes: 1, delivered: 0, pending: 0 });
    expect(world.receiver.received).toHaveLength(attempts);
    const marks = await world.store.list<{ gone: boolean }>('endpoint/');
    expect(marks.map((mark) => mark.value.gone)).toEqual([true]);
  });
});

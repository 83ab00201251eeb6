import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../shared/poller';
import { flowsInSpace, listFlowCalls, type PollerWorld, startPollerWorld } from './harness';

const WATCHED = '700000000000001';
const SPACE = 'space-a';
const spaceFlows = flowsInSpace(SPACE, 150, 710000000000000);

let world: PollerWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const listCalls = listFlowCalls;
const checksOf = (w: PollerWorld, flowId: string) =>
  w.simulator.calls.filter((call) => call.action === 'GetFlow' && call.flowId === flowId).length;

/** WATCHED (outside any space) baselined, then changed while the receiver refused: one event owed. */
async function worldOwingAnEvent(): Promise<PollerWorld> {
  const started = await startPollerWorld({
    flows: [{ flowId: WATCHED, flowName: 'watched', status: 'PUBLISHED' }],
    watch: WATCHED,
    custSpaces: SPACE,
    pollQps: 4,
  });
  world = started;
  await started.run();
  started.simulator.setStatus(WATCHED, 'BLOCKED');
  started.receiver.setResponse(503);
  started.clock.advance(61_000);
  expect(await started.run()).toMatchObject({ changes: 1, pending: 1 });
  started.receiver.setResponse(204);
  started.clock.advance(61_000);
  return started;
}

describe('poller discovery runs beside the checks and deliveries', () => {
  it('checks a known flow and delivers an owed event while a ListFlow page is unanswered, then checks what it lists', async () => {
    const w = await worldOwingAnEvent();
    for (const flow of spaceFlows) w.simulator.setFlow(flow);
    // The first page is held until the known flow was checked and its owed event delivered (or
    // 5 s of real time, so an order with discovery first fails instead of hanging).
    const checkedBefore = checksOf(w, WATCHED);
    const receivedBefore = w.receiver.received.length;
    const sawCheckAndDelivery = () =>
      checksOf(w, WATCHED) > checkedBefore && w.receiver.received.length > receivedBefore;
    let isBeforePage = false;
    const release = (async () => {
      for (let waitedMs = 0; waitedMs < 5000 && !sawCheckAndDelivery(); waitedMs += 10) await delay(10);
      isBeforePage = sawCheckAndDelivery();
    })();
    w.simulator.injectFault({ kind: 'late-answer', release }, { action: 'ListFlow', times: 1 });
    const summary = await w.run();
    expect(isBeforePage).toBe(true);
    // The 150 flows it found were checked in the same run, within the run's budget.
    expect(summary).toMatchObject({ flowsChecked: 151, delivered: 1, pending: 0, failed: 0 });
    expect(w.delivered().map((event) => event.data.status)).toEqual(['BLOCKED']);
  });

  it('keeps what a listing cut short by the run end found: checked in the same run, watched in the next', async () => {
    const w = await worldOwingAnEvent();
    for (const flow of spaceFlows) w.simulator.setFlow(flow);
    // Page 1 answers; every later page is throttled until the run is over.
    w.simulator.injectFault(
      { kind: 'answer', rewrite: (answer) => answer },
      { action: 'ListFlow', times: 1 },
    );
    w.simulator.injectFault({ kind: 'error', code: 'System.LimitControl' }, { action: 'ListFlow' });
    const summary = await w.run({ timeoutS: 8 });
    expect(summary).toMatchObject({ delivered: 1, pending: 0 });
    expect(checksOf(w, WATCHED)).toBeGreaterThan(2);
    const checkedFromPage1 = spaceFlows.slice(0, 50).filter((flow) => checksOf(w, flow.flowId) > 0).length;
    expect(checkedFromPage1).toBeGreaterThan(0);
    expect(summary.flowsChecked).toBe(1 + checkedFromPage1);
    expect(w.logs).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/^flow discovery stopped early: /), found: 50 }),
    );
    // Kept, and still due: no removal announced, the next run watches page 1's flows and lists again.
    const kept = await w.store.get<{ lastRunAt: number; flowIds: string[] }>(`discovery/${SPACE}`);
    expect(kept?.value.flowIds).toEqual(spaceFlows.slice(0, 50).map((flow) => flow.flowId));
    expect(w.logs.filter((entry) => entry.msg === 'flow removed')).toEqual([]);
    w.simulator.clearFaults();
    const lists = listCalls(w);
    w.clock.advance(61_000);
    const next = await w.run();
    expect(listCalls(w) - lists).toBe(4);
    expect(next).toMatchObject({ flowsChecked: 151, changes: 0, failed: 0 });
    expect((await w.store.list<FlowRecord>(`flow/${SPACE}/`)).length).toBe(150);
  });
});

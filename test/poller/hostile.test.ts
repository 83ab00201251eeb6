import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import {
  freshStateDirectory,
  POLLER_BUNDLE,
  pollerInstance,
  stateAt,
  WEBHOOK_SECRET,
} from './bundle-harness';

const A = '800000000000001';
const B = '800000000000002';
const C = '800000000000003';

let simulator: CamsSimulator;
let receiver: WebhookReceiver;
const instances: Array<{ restore(): void }> = [];

beforeAll(async () => {
  simulator = await startCamsSimulator({ rateLimit: false });
  receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
});
afterAll(async () => {
  await receiver.close();
  await simulator.close();
});
afterEach(() => {
  simulator.clearFaults();
  receiver.setResponse((delivery) => ({ status: delivery.verified ? 204 : 401 }));
  for (const instance of instances.splice(0)) instance.restore();
});

function seed(status = 'PUBLISHED', custSpaceId?: string) {
  for (const flowId of [A, B, C]) simulator.setFlow({ flowId, flowName: `f${flowId}`, status, custSpaceId });
}

function instance(directory: string, env: Record<string, string> = {}) {
  const created = pollerInstance({
    CAMS_ENDPOINT: simulator.endpoint,
    WATCH_FLOWS: [A, B, C].join(','),
    WATCH_CUST_SPACES: '',
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET,
    STATE_URL: `file:${directory}`,
    POLL_INTERVALS: '*=60',
    ...env,
  });
  instances.push(created);
  return created;
}

/** Verified deliveries of `flowId` since `from`, as [id, previousStatus→status]. */
function deliveriesOf(flowId: string, from = 0) {
  return receiver.received
    .slice(from)
    .filter((delivery) => delivery.verified && delivery.body.includes(flowId))
    .map((delivery) => {
      const body = JSON.parse(delivery.body) as { type: string; data: Record<string, string> };
      return { id: delivery.id, type: body.type, change: `${body.data.previousStatus}→${body.data.status}` };
    });
}

function lateAnswerFor(flowId: string) {
  let release: () => void = () => undefined;
  let arrived: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const hasArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  simulator.injectFault(
    { kind: 'late-answer', release: released, onArrived: () => arrived() },
    { action: 'GetFlow', flowId, times: 1 },
  );
  return { release, hasArrived };
}

/** Every flow recorded in `directory` is due for a check now. */
async function makeDue(directory: string) {
  const store = stateAt(directory);
  for (const item of await store.list<Record<string, unknown>>('flow/')) {
    await store.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
  }
}

/** One poller run in its own OS process, on the given environment. */
function runInProcess(env: Record<string, string>): Promise<Record<string, unknown>> {
  const script = `
    const { handler } = require(${JSON.stringify(POLLER_BUNDLE)});
    const event = Buffer.from(JSON.stringify({ triggerTime: new Date().toISOString().slice(0, 19) + 'Z', triggerName: 't' }));
    const context = { requestId: 'child', credentials: JSON.parse(process.env.TEST_CREDENTIALS), function: { timeout: 20 } };
    console.log = () => {};
    handler(event, context).then((summary) => process.stdout.write('SUMMARY ' + JSON.stringify(summary) + '\\n'));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, ...env, TEST_CREDENTIALS: JSON.stringify(SIMULATOR_CREDENTIALS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', () => {
      const line = out.split('\n').find((entry) => entry.startsWith('SUMMARY '));
      if (line) resolve(JSON.parse(line.slice('SUMMARY '.length)) as Record<string, unknown>);
      else reject(new Error(`child printed no summary: ${out}`));
    });
  });
}

describe('1. overlapping runs never apply a stale answer', () => {
  it('two instances in one process: the late answer is discarded, the change announced once', async () => {
    seed();
    const directory = freshStateDirectory();
    const first = instance(directory);
    const second = instance(directory);
    expect(await first.run()).toMatchObject({ flowsChecked: 3, changes: 0 });
    const from = receiver.received.length;
    const statePath = stateAt(directory);
    // Make every flow due again.
    for (const item of await statePath.list<Record<string, unknown>>('flow/')) {
      await statePath.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
    }
    const late = lateAnswerFor(A);
    const slowRun = first.run(20);
    await late.hasArrived;
    simulator.setStatus(A, 'BLOCKED');
    expect(await second.run()).toMatchObject({ changes: 1 });
    late.release();
    const slow = await slowRun;
    expect(slow).toMatchObject({ changes: 0 });
    expect(deliveriesOf(A, from)).toEqual([
      { id: expect.any(String), type: 'flow.status_changed', change: 'PUBLISHED→BLOCKED' },
    ]);
    const record = (await statePath.get<{ status: string }>(`flow/-/${A}`))?.value;
    expect(record?.status).toBe('BLOCKED');
    // console.log is captured by the instance loaded last.
    expect(second.logs()).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/answer discarded/) }),
    );
    // The next check agrees with the record: nothing further is announced.
    for (const item of await statePath.list<Record<string, unknown>>('flow/')) {
      await statePath.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
    }
    expect(await first.run()).toMatchObject({ changes: 0 });
    expect(deliveriesOf(A, from)).toHaveLength(1);
    simulator.setStatus(A, 'PUBLISHED');
  });

  it('two OS processes on one file: store, CAMS answering one of them late', async () => {
    seed();
    const directory = freshStateDirectory();
    const env = {
      CAMS_ENDPOINT: simulator.endpoint,
      WATCH_FLOWS: [A, B, C].join(','),
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET,
      STATE_URL: `file:${directory}`,
      POLL_INTERVALS: '*=60',
    };
    expect(await runInProcess(env)).toMatchObject({ flowsChecked: 3 });
    const statePath = stateAt(directory);
    for (const item of await statePath.list<Record<string, unknown>>('flow/')) {
      await statePath.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
    }
    const from = receiver.received.length;
    const late = lateAnswerFor(B);
    const slowRun = runInProcess(env);
    await late.hasArrived;
    simulator.setStatus(B, 'THROTTLED');
    expect(await runInProcess(env)).toMatchObject({ changes: 1 });
    late.release();
    expect(await slowRun).toMatchObject({ changes: 0 });
    expect(deliveriesOf(B, from).map((entry) => entry.change)).toEqual(['PUBLISHED→THROTTLED']);
    const events = deliveriesOf(B, from);
    expect(new Set(events.map((entry) => entry.id)).size).toBe(events.length);
    simulator.setStatus(B, 'PUBLISHED');
  }, 60_000);
});

describe('2. a bad ListFlow is not "everything removed"', () => {
  it('ignores a 200 without Data and an empty list; a removal is confirmed by GetFlow; a return is a change', async () => {
    const space = 'space-hostile';
    seed('PUBLISHED', space);
    const directory = freshStateDirectory();
    const poller = instance(directory, {
      WATCH_FLOWS: '',
      WATCH_CUST_SPACES: space,
      DISCOVERY_INTERVAL_SECONDS: '0',
    });
    expect(await poller.run()).toMatchObject({ flowsChecked: 3 });
    const from = receiver.received.length;
    const due = () => makeDue(directory);
    simulator.injectFault(
      { kind: 'answer', rewrite: ({ Data: _data, ...rest }) => rest },
      { action: 'ListFlow', times: 1 },
    );
    await due();
    expect(await poller.run()).toMatchObject({ flowsChecked: 3, changes: 0 });
    simulator.injectFault(
      { kind: 'answer', rewrite: (answer) => ({ ...answer, Data: [] }) },
      { action: 'ListFlow', times: 1 },
    );
    await due();
    expect(await poller.run()).toMatchObject({ flowsChecked: 3, changes: 0 });
    expect(deliveriesOf(space, from)).toEqual([]);
    expect(poller.logs()).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/listed no flows/) }),
    );
    // Really gone: its own GetFlow says so.
    simulator.deleteFlow(A, space);
    await due();
    expect(await poller.run()).toMatchObject({ changes: 1 });
    expect(deliveriesOf(A, from)).toEqual([expect.objectContaining({ type: 'flow.removed' })]);
    // Back, with another status than the last one known: announced, not re-baselined.
    simulator.setFlow({ flowId: A, flowName: 'back', status: 'DRAFT', custSpaceId: space });
    await due();
    expect(await poller.run()).toMatchObject({ changes: 1 });
    expect(deliveriesOf(A, from).map((entry) => `${entry.type} ${entry.change}`)).toEqual([
      'flow.removed PUBLISHED→undefined',
      'flow.status_changed PUBLISHED→DRAFT',
    ]);
  });
});

describe('3. changing WEBHOOK_URL never silently drops owed events', () => {
  it('sends events owed to a removed endpoint to the configured one, under the same ids', async () => {
    seed();
    const other = await startWebhookReceiver({ secret: WEBHOOK_SECRET, respond: 503 });
    try {
      const directory = freshStateDirectory();
      const before = instance(directory, { WEBHOOK_URL: other.url });
      await before.run();
      simulator.setStatus(C, 'THROTTLED');
      const store = stateAt(directory);
      for (const item of await store.list<Record<string, unknown>>('flow/')) {
        await store.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
      }
      expect(await before.run()).toMatchObject({ changes: 1, delivered: 0, pending: 1 });
      const owedId = other.received.at(-1)?.id;
      const from = receiver.received.length;
      const after = instance(directory);
      expect(await after.run()).toMatchObject({ delivered: 1, pending: 0 });
      expect(deliveriesOf(C, from).map((entry) => entry.id)).toEqual([owedId]);
      expect(after.logs()).toContainEqual(
        expect.objectContaining({ msg: expect.stringMatching(/no longer in WEBHOOK_URL/) }),
      );
    } finally {
      simulator.setStatus(C, 'PUBLISHED');
      await other.close();
    }
  });
});

describe('3. rerouting never sends an event twice to an endpoint that acknowledged it', () => {
  it('moves an event owed to a dropped endpoint only to the new one, and closes the dropped one in the history', async () => {
    seed();
    const failing = await startWebhookReceiver({ secret: WEBHOOK_SECRET, respond: 503 });
    const added = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    try {
      const directory = freshStateDirectory();
      const before = instance(directory, { WEBHOOK_URL: `${receiver.url},${failing.url}` });
      await before.run();
      simulator.setStatus(C, 'THROTTLED');
      const store = stateAt(directory);
      for (const item of await store.list<Record<string, unknown>>('flow/')) {
        await store.put(item.key, { ...item.value, lastCheckedAt: 0 }, item.version);
      }
      const from = receiver.received.length;
      expect(await before.run()).toMatchObject({ changes: 1, delivered: 1, pending: 1 });
      const [owed] = deliveriesOf(C, from);
      expect(failing.received.at(-1)?.id).toBe(owed?.id);

      const after = instance(directory, { WEBHOOK_URL: `${receiver.url},${added.url}` });
      expect(await after.run()).toMatchObject({ delivered: 1, pending: 0 });
      expect(added.received.filter((delivery) => delivery.verified).map((delivery) => delivery.id)).toEqual([
        owed?.id,
      ]);
      // The endpoint that had it already is not sent it again.
      expect(deliveriesOf(C, from).map((entry) => entry.id)).toEqual([owed?.id]);
      const record = (
        await store.get<{ history: Array<{ eventId: string; deliveries: unknown[] }> }>(`flow/-/${C}`)
      )?.value;
      const states = record?.history.find((entry) => entry.eventId === owed?.id)?.deliveries;
      expect(states).toHaveLength(3);
      expect(states).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ state: 'delivered', attempts: 1 }),
          expect.objectContaining({ state: 'rerouted', attempts: 1 }),
          expect.objectContaining({ state: 'delivered', attempts: 1 }),
        ]),
      );
    } finally {
      simulator.setStatus(C, 'PUBLISHED');
      await failing.close();
      await added.close();
    }
  });
});

describe('4. one bad record never stops the others', () => {
  it.each([
    ['truncated', '{"key":"flow/-/800000000000001","version":3,"value":{"flowId":"8000'],
    ['empty', ''],
    ['null', '{"key":"flow/-/800000000000001","version":3,"value":null}'],
    ['schema-invalid', '{"key":"flow/-/800000000000001","version":3,"value":{"flowId":7,"outbox":"x"}}'],
    [
      'history-invalid',
      '{"key":"flow/-/800000000000001","version":3,"value":{"flowId":"800000000000001","flowName":"","failures":0,"outbox":[],"deadLetters":[],"history":[{"eventId":"e","deliveries":"x"}]}}',
    ],
    [
      'out-of-range epoch',
      '{"key":"flow/-/800000000000001","version":3,"value":{"flowId":"800000000000001","flowName":"","failures":0,"lastCheckedAt":1e300,"outbox":[],"deadLetters":[]}}',
    ],
    [
      'for another flow',
      '{"key":"flow/-/800000000000001","version":3,"value":{"flowId":"1","flowName":"","failures":0,"outbox":[],"deadLetters":[]}}',
    ],
  ])('a %s record is quarantined and every other flow is checked and delivered', async (_name, content) => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory);
    await poller.run();
    const file = join(directory, `${Buffer.from(`flow/-/${A}`).toString('base64url')}.json`);
    writeFileSync(file, content);
    simulator.setStatus(B, 'BLOCKED');
    const store = stateAt(directory);
    const record = await store.get<Record<string, unknown>>(`flow/-/${B}`);
    await store.put(`flow/-/${B}`, { ...record?.value, lastCheckedAt: 0 }, record?.version ?? 0);
    const from = receiver.received.length;
    const summary = await poller.run();
    expect(summary).toMatchObject({ changes: 1, delivered: 1 });
    expect(deliveriesOf(B, from)).toHaveLength(1);
    expect(poller.logs()).toContainEqual(
      expect.objectContaining({ level: 'error', key: `flow/-/${A}`, msg: expect.stringMatching(/unusable/) }),
    );
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(file, 'utf8')).toBe(content);
    simulator.setStatus(B, 'PUBLISHED');
  });

  it('a lock file held by a live process does not hold the run past its deadline', async () => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory, { POLL_INTERVALS: 'PUBLISHED=0.2' });
    await poller.run(1);
    const lock = join(directory, `${Buffer.from(`flow/-/${A}`).toString('base64url')}.json.lock`);
    const { hostname } = await import('node:os');
    writeFileSync(lock, `${hostname()} ${process.pid}`);
    const before = simulator.calls.filter((call) => call.flowId === A).length;
    const startedAt = Date.now();
    const summary = await poller.run(3);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(summary.flowsChecked).toBeGreaterThan(2);
    // 5. The flow whose state cannot be saved is backed off in memory, not retried hot.
    expect(simulator.calls.filter((call) => call.flowId === A).length - before).toBeLessThanOrEqual(2);
  });
});

describe('a check or backoff stamped far in the future', () => {
  it('does not stall the flow: more than a day ahead counts as due, less than a day ahead is kept', async () => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory);
    await poller.run();
    const store = stateAt(directory);
    const year = 365 * 24 * 3600_000;
    const stamps: Record<string, Record<string, number>> = {
      [A]: { lastCheckedAt: Date.now() + year },
      [B]: { lastCheckedAt: 0, retryAt: Date.now() + year, failures: 1 },
      [C]: { lastCheckedAt: Date.now() + 3600_000 },
    };
    for (const [flowId, stamp] of Object.entries(stamps)) {
      const record = await store.get<Record<string, unknown>>(`flow/-/${flowId}`);
      await store.put(`flow/-/${flowId}`, { ...record?.value, ...stamp }, record?.version ?? 0);
      simulator.setStatus(flowId, 'BLOCKED');
    }
    try {
      const from = receiver.received.length;
      expect(await poller.run()).toMatchObject({ changes: 2, delivered: 2 });
      expect(deliveriesOf(A, from).map((entry) => entry.change)).toEqual(['PUBLISHED→BLOCKED']);
      expect(deliveriesOf(B, from).map((entry) => entry.change)).toEqual(['PUBLISHED→BLOCKED']);
      // An hour ahead is clock skew between instances, not a broken stamp.
      expect(deliveriesOf(C, from)).toEqual([]);
      expect((await store.get<{ lastCheckedAt: number }>(`flow/-/${A}`))?.value.lastCheckedAt).toBeLessThan(
        Date.now() + 1000,
      );
    } finally {
      for (const flowId of [A, B, C]) simulator.setStatus(flowId, 'PUBLISHED');
    }
  });
});

describe('5. failures are bounded', () => {
  it('logs repeated identical failures once with a count', async () => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory);
    simulator.injectFault({ kind: 'error', code: 'Ram.PermissionDeny' }, { action: 'GetFlow', times: 3 });
    const summary = await poller.run();
    expect(summary.failed).toBe(3);
    const failures = poller.logs().filter((entry) => entry.msg === 'flow check failed; backing off');
    expect(failures).toEqual([expect.objectContaining({ code: 'Ram.PermissionDeny', count: 3 })]);
  });

  it('keeps invalid ids from ListFlow out of state', async () => {
    const space = 'space-ids';
    simulator.setFlow({ flowId: A, flowName: 'ok', status: 'PUBLISHED', custSpaceId: space });
    const directory = freshStateDirectory();
    const poller = instance(directory, { WATCH_FLOWS: '', WATCH_CUST_SPACES: space });
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => ({
          ...answer,
          Data: [
            ...(answer.Data as object[]),
            { FlowId: '../../etc/passwd', FlowName: 'x' },
            { FlowId: 'a'.repeat(500), FlowName: 'y' },
          ],
        }),
      },
      { action: 'ListFlow', times: 1 },
    );
    expect(await poller.run()).toMatchObject({ flowsChecked: 1, failed: 0 });
    const keys = (await stateAt(directory).list('')).map((item) => item.key);
    expect(keys.filter((key) => key.startsWith('flow/'))).toEqual([`flow/${space}/${A}`]);
  });
});

describe('6. statuses are data', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'a status %s (no upper-case word) is refused at the edge: the check fails, nothing is announced',
    async (status) => {
      seed();
      const directory = freshStateDirectory();
      const poller = instance(directory);
      expect(await poller.run()).toMatchObject({ flowsChecked: 3, failed: 0 });
      const from = receiver.received.length;
      simulator.setStatus(A, status);
      await makeDue(directory);
      const summary = await poller.run();
      expect(summary).toMatchObject({ flowsChecked: 2, changes: 0 });
      // Checked again only after its own backoff (2.5–5 s, then twice that) within the 10 s run.
      expect(summary.failed).toBeGreaterThanOrEqual(1);
      expect(summary.failed).toBeLessThanOrEqual(3);
      expect(poller.logs()).toContainEqual(
        expect.objectContaining({ msg: 'flow check failed; backing off', code: 'InvalidResponse' }),
      );
      expect(deliveriesOf(A, from)).toEqual([]);
      simulator.setStatus(A, 'PUBLISHED');
    },
  );

  it.each(['BRAND_NEW', 'UNDER_REVIEW'])('a flow in status %s is scheduled like *', async (status) => {
    seed();
    simulator.setStatus(A, status);
    const directory = freshStateDirectory();
    // Checks start until half a second before the deadline: a 3 s run at * every 0.2 s has
    // room for ~12 checks of A, so a busy machine's slow start still leaves well over 3.
    const poller = instance(directory, { POLL_INTERVALS: 'PUBLISHED=600,*=0.2' });
    const before = simulator.calls.filter((call) => call.flowId === A).length;
    const summary = await poller.run(3);
    expect(summary.failed).toBe(0);
    expect(simulator.calls.filter((call) => call.flowId === A).length - before).toBeGreaterThanOrEqual(3);
    simulator.setStatus(A, 'PUBLISHED');
  });
});

describe('12. receiver-controlled values are bounded', () => {
  it('caps Retry-After at an hour and stores at most 1 KB of reason', async () => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory, { WEBHOOK_FORMAT: 'dingtalk' });
    await poller.run();
    receiver.setResponse({ status: 200, body: JSON.stringify({ errcode: 'x'.repeat(100_000) }) });
    simulator.setStatus(A, 'BLOCKED');
    const store = stateAt(directory);
    const record = await store.get<Record<string, unknown>>(`flow/-/${A}`);
    await store.put(`flow/-/${A}`, { ...record?.value, lastCheckedAt: 0 }, record?.version ?? 0);
    await poller.run();
    const saved = (await store.get<{ outbox: Array<{ lastReason: string }> }>(`flow/-/${A}`))?.value;
    expect(Buffer.byteLength(saved?.outbox[0]?.lastReason ?? '')).toBeLessThanOrEqual(1024);
    for (const line of poller.lines) expect(line.length).toBeLessThan(4096);
    simulator.setStatus(A, 'PUBLISHED');
  });

  it('a Retry-After of years delays the next attempt by at most an hour', async () => {
    seed();
    const directory = freshStateDirectory();
    const poller = instance(directory);
    await poller.run();
    receiver.setResponse({ status: 429, headers: { 'retry-after': '999999999' } });
    simulator.setStatus(B, 'DRAFT');
    const store = stateAt(directory);
    const record = await store.get<Record<string, unknown>>(`flow/-/${B}`);
    await store.put(`flow/-/${B}`, { ...record?.value, lastCheckedAt: 0 }, record?.version ?? 0);
    const ranAt = Date.now();
    await poller.run();
    const saved = (await store.get<{ outbox: Array<{ nextAttemptAt: number }> }>(`flow/-/${B}`))?.value;
    expect(saved?.outbox[0]?.nextAttemptAt).toBeLessThanOrEqual(ranAt + 3600_000 + 60_000);
    simulator.setStatus(B, 'PUBLISHED');
  });
});

describe('11. weak webhook secrets', () => {
  it('are refused at configuration, naming the variable without echoing it', async () => {
    const poller = instance(freshStateDirectory(), { WEBHOOK_SECRET: 'too-short-secret' });
    const result = await poller.run();
    expect(result.error).toMatchObject({ code: 'InvalidConfiguration' });
    expect(result.error?.message).toContain('WEBHOOK_SECRET');
    expect(JSON.stringify(result) + poller.lines.join('\n')).not.toContain('too-short-secret');
  });
});

describe('13. discovery cannot starve the watched flows', () => {
  it('stops a ListFlow that repeats the same page, and spends at most a quarter of the calls', async () => {
    const space = 'space-loop';
    simulator.setFlow({ flowId: C, flowName: 'watched', status: 'PUBLISHED' });
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => ({
          ...answer,
          Data: Array.from({ length: 50 }, (_, index) => ({
            FlowId: String(810000000000000 + index),
            FlowName: 'n',
          })),
        }),
      },
      { action: 'ListFlow' },
    );
    const directory = freshStateDirectory();
    const poller = instance(directory, {
      WATCH_FLOWS: C,
      WATCH_CUST_SPACES: space,
      POLL_QPS: '5',
      CAMS_ACCOUNT_QPS: '6',
    });
    const before = simulator.calls.length;
    await poller.run(10);
    const calls = simulator.calls.slice(before);
    expect(calls.filter((call) => call.action === 'ListFlow').length).toBe(2);
    expect(calls.filter((call) => call.flowId === C).length).toBeGreaterThanOrEqual(1);
    expect(poller.logs()).toContainEqual(
      expect.objectContaining({ msg: expect.stringMatching(/stopped early/) }),
    );
  });

  it('a ListFlow that never ends takes at most a quarter of the run', async () => {
    const space = 'space-endless';
    simulator.setFlow({ flowId: C, flowName: 'watched', status: 'PUBLISHED' });
    let page = 0;
    simulator.injectFault(
      {
        kind: 'answer',
        rewrite: (answer) => {
          page += 1;
          return {
            ...answer,
            Data: Array.from({ length: 50 }, (_, index) => ({
              FlowId: String(820000000000000 + page * 100 + index),
              FlowName: 'n',
            })),
          };
        },
      },
      { action: 'ListFlow' },
    );
    const poller = instance(freshStateDirectory(), {
      WATCH_FLOWS: C,
      WATCH_CUST_SPACES: space,
      POLL_QPS: '4',
    });
    const before = simulator.calls.length;
    await poller.run(10);
    const calls = simulator.calls.slice(before);
    // 10 s at 4 calls/s, less the save margin: 38 calls, a quarter of them 9.
    expect(calls.filter((call) => call.action === 'ListFlow').length).toBeLessThanOrEqual(10);
    expect(calls.filter((call) => call.flowId === C).length).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

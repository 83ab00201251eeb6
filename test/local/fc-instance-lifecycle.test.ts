import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FcFunction, type FcFunctionOptions } from '../../local/fc-emulator';
import { startGateServer } from '../support/gate-server';
import { writeTestBundle } from '../support/test-bundle';

/**
 * What an instance does when no invocation runs, and what it may hold while one does: FC freezes
 * an instance once it has answered and ends one that outgrows the function's memory size.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function start(options: Pick<FcFunctionOptions, 'bundle'> & Partial<FcFunctionOptions>) {
  const fn = new FcFunction({ env: {}, ...options });
  cleanups.push(() => fn.close());
  return fn;
}

const invokeWith = (fn: FcFunction, event: unknown) => fn.invoke(Buffer.from(JSON.stringify(event)));

/** Long enough for work left after the answer to have run on an instance that is not frozen. */
const IDLE_MS = 300;

describe('FC emulator: an instance is frozen between invocations', () => {
  it('runs a timer left pending after the answer only once the next invocation thaws the instance', async () => {
    const bundle = writeTestBundle(`
let lateTimerRanAt = null;
exports.handler = async (event) => {
  if (JSON.parse(event.toString()).leaveTimer) {
    setTimeout(() => { lateTimerRanAt = Date.now(); }, 20);
    return 'left a timer';
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { lateTimerRanAt };
};`);
    const fn = start({ bundle });
    expect(await invokeWith(fn, { leaveTimer: true })).toMatchObject({ ok: true });
    await sleep(IDLE_MS);
    expect(fn.stats()).toMatchObject({ instancesAlive: 1, busy: 0 });
    const thawedAt = Date.now();
    const next = await invokeWith(fn, {});
    expect(next).toMatchObject({ ok: true, value: { lateTimerRanAt: expect.any(Number) } });
    const { lateTimerRanAt } = (next as { value: { lateTimerRanAt: number } }).value;
    expect(lateTimerRanAt).toBeGreaterThanOrEqual(thawedAt);
  });

  it('sends no request started after the answer until thawed (FC suspends the code, network I/O too)', async () => {
    const gate = await startGateServer();
    cleanups.push(() => gate.close());
    const bundle = writeTestBundle(`
let lateAnswer;
exports.handler = async (event) => {
  const { url } = JSON.parse(event.toString());
  if (url) {
    lateAnswer = new Promise((resolve, reject) => {
      setTimeout(() => fetch(url).then((response) => response.text()).then(resolve, reject), 20);
    });
    return 'answered';
  }
  return await lateAnswer;
};`);
    const fn = start({ bundle });
    expect(await invokeWith(fn, { url: gate.url })).toMatchObject({ ok: true, value: 'answered' });
    const whileFrozen = await Promise.race([
      gate.arrived(1).then(() => 'request sent'),
      sleep(IDLE_MS).then(() => 'nothing sent'),
    ]);
    expect(whileFrozen).toBe('nothing sent');
    const next = invokeWith(fn, {});
    await gate.arrived(1);
    gate.release();
    expect(await next).toMatchObject({ ok: true, value: 'open' });
  });

  it('still ships the log lines written before the answer', async () => {
    const lines: string[] = [];
    const bundle = writeTestBundle(`
exports.handler = async () => {
  for (let line = 1; line <= 50; line += 1) console.log('line ' + line);
  return 'logged';
};`);
    const fn = start({ bundle, log: (line) => lines.push(line) });
    expect(await invokeWith(fn, {})).toMatchObject({ ok: true, value: 'logged' });
    await expect.poll(() => lines.length).toBe(50);
  });
});

describe('FC emulator: the function memory size', () => {
  const HOLDS_200_MB_OF_HEAP = `
exports.handler = async () => {
  const held = [];
  for (let i = 0; i < 25; i += 1) held.push(new Array(1024 * 1024).fill(i + 0.5));
  return String(held.length);
};`;

  it('ends an instance whose heap outgrows the memory size: 502 as for a crash, and a new instance next', async () => {
    const bundle = writeTestBundle(HOLDS_200_MB_OF_HEAP);
    const fn = start({ bundle, memoryMb: 128 });
    const invocation = await invokeWith(fn, {});
    expect(invocation).toMatchObject({
      ok: false,
      error: {
        statusCode: 502,
        errorType: 'UnhandledInvocationError',
        body: {
          errorMessage: expect.stringMatching(/^Process exited unexpectedly before completing request/),
        },
      },
    });
    expect(fn.stats()).toMatchObject({ crashed: 1, instancesAlive: 0 });
  });

  it('lets a function sized for it hold the same heap', async () => {
    const bundle = writeTestBundle(HOLDS_200_MB_OF_HEAP);
    const fn = start({ bundle, memoryMb: 512 });
    expect(await invokeWith(fn, {})).toMatchObject({ ok: true, value: '25' });
  });
});

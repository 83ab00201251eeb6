import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { httpFunction } from './harness';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FLOW = { flowId: '830000000000001', flowName: 'after_a_freeze', status: 'PUBLISHED' };
const UNWATCHED = ['830000000000011', '830000000000012', '830000000000013'].map((flowId) => ({
  flowId,
  flowName: 'unwatched',
  status: 'PUBLISHED',
}));

/** A warm HTTP function reading unwatched flows straight from the simulator (a CAMS call each). */
async function unwatchedReader() {
  const simulator = await startCamsSimulator({ flows: UNWATCHED });
  cleanups.push(() => simulator.close());
  const lines: string[] = [];
  const { fn, invoke } = httpFunction(
    { CAMS_ENDPOINT: simulator.endpoint, HTTP_AUTH: 'none' },
    { credentials: SIMULATOR_CREDENTIALS, log: (line) => lines.push(line) },
  );
  cleanups.push(() => fn.close());
  return {
    simulator,
    fn,
    lines,
    /** The answer and the request's log line (its CAMS attempts, its level). */
    async read(index: number) {
      const answer = await invoke({ path: `/flows/${UNWATCHED[index]?.flowId}` });
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      return { answer, logged: logged.filter((entry) => entry.msg === 'request').at(-1) };
    },
  };
}

describe('the HTTP function on an instance FC froze between invocations', () => {
  // The Tablestore stand-in, like Node's HTTP servers, closes a keep-alive connection idle for
  // 5 s; a frozen instance does not notice until it is thawed.
  it('still draws on the shared budget and shares its answer after sitting frozen past the store’s idle timeout', async () => {
    const simulator = await startCamsSimulator({ flows: [FLOW] });
    cleanups.push(() => simulator.close());
    const tablestore = await startTablestoreServer({
      instance: 'cfw-frozen',
      credentials: [SIMULATOR_CREDENTIALS],
    });
    cleanups.push(() => tablestore.close());
    const lines: string[] = [];
    const { fn, invoke } = httpFunction(
      {
        CAMS_ENDPOINT: simulator.endpoint,
        HTTP_AUTH: 'none',
        STATE_URL: 'tablestore://cfw-frozen/flow_state',
        TABLESTORE_ENDPOINT: tablestore.endpoint,
      },
      { credentials: SIMULATOR_CREDENTIALS, log: (line) => lines.push(line) },
    );
    cleanups.push(() => fn.close());
    const read = () => invoke({ path: `/flows/${FLOW.flowId}`, headers: { 'cache-control': 'no-cache' } });

    expect((await read()).statusCode).toBe(200);
    await sleep(6000);
    const afterFreeze = await read();

    expect(afterFreeze.statusCode).toBe(200);
    expect(afterFreeze.headers['cache-status']).toMatch(/stored/);
    expect(fn.stats()).toMatchObject({ instancesStarted: 1 });
    expect(lines.filter((line) => line.includes('"level":"warn"'))).toEqual([]);
  }, 30_000);

  // The CAMS client's undici Agent keeps connections 30 s, but drops a pooled one the server has
  // closed before reusing it (see docs/http.md, "Connections"): a thawed instance's first CAMS
  // call neither fails on a dead socket nor spends a second attempt (and account-budget slot).
  it('reads CAMS on a fresh connection, in one attempt, after sitting frozen past CAMS’s idle timeout', async () => {
    const { simulator, fn, lines, read } = await unwatchedReader();

    const first = await read(0);
    await sleep(6000);
    const afterFreeze = await read(1);

    expect(first.answer.statusCode).toBe(200);
    expect(afterFreeze.answer.statusCode).toBe(200);
    expect(afterFreeze.logged).toMatchObject({ level: 'info', camsCalls: 1, source: 'cams' });
    expect(simulator.calls.map((call) => call.code)).toEqual(['OK', 'OK']);
    expect(simulator.connections.opened).toBe(2);
    expect(fn.stats()).toMatchObject({ instancesStarted: 1 });
    expect(lines.filter((line) => !line.includes('"level":"info"'))).toEqual([]);
  }, 30_000);

  // Without waiting out the 5 s: the server closes the idle connection (a FIN the frozen
  // instance cannot read) while the instance still trusts its own keep-alive timer.
  it('reuses its CAMS connection under steady traffic and drops it once CAMS has closed it', async () => {
    const { simulator, fn, lines, read } = await unwatchedReader();

    await read(0);
    const steady = await read(1);
    const connectionsWhileSteady = simulator.connections.opened;
    await simulator.connections.closeIdle();
    const afterClose = await read(2);

    expect(steady.logged).toMatchObject({ camsCalls: 1 });
    expect(connectionsWhileSteady).toBe(1);
    expect(afterClose.answer.statusCode).toBe(200);
    expect(afterClose.logged).toMatchObject({ level: 'info', camsCalls: 1, source: 'cams' });
    expect(simulator.calls).toHaveLength(3);
    expect(simulator.connections.opened).toBe(2);
    expect(fn.stats()).toMatchObject({ instancesStarted: 1 });
    expect(lines.filter((line) => !line.includes('"level":"info"'))).toEqual([]);
  });
});

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
});

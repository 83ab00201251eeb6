/**
 * Part 3b: the poller function's own memory at N watched flows — the built bundle in a fresh
 * `node` process, as FC runs it, one timer invocation against a simulator in another process
 * (5 calls/s enforced) and a file store already holding every flow's record (steady state:
 * discovered through WATCH_CUST_SPACES, because FC limits all variables to 4 KB together).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SIMULATOR_CREDENTIALS } from '../local/cams-simulator';
import { discoveryKey, flowKey, newFlowRecord } from '../shared/poller/records';
import { FileStateStore } from '../shared/state/file-store';
import { spawnSimulator } from './spawn-simulator';
import { round } from './stats';

const CUST_SPACE = 'bench-space';
const BUNDLE = resolve('dist/poller/index.js');

export interface PollerMemoryResult {
  readonly flows: number;
  readonly runSeconds: number;
  readonly flowsChecked: number;
  readonly peakRssMb: number;
  /** The same process right after loading the bundle, before the run: the runtime's own share. */
  readonly loadedRssMb: number;
}

const CHILD = `
const { handler } = require(process.argv[1]);
const loaded = process.memoryUsage().rss;
const context = { requestId: 'bench-memory', credentials: JSON.parse(process.env.BENCH_CREDENTIALS),
  function: { name: 'cams-flow-watch-poller', timeout: Number(process.env.BENCH_TIMEOUT) } };
const event = Buffer.from(JSON.stringify({ triggerTime: new Date().toISOString(), triggerName: 'bench', payload: '' }));
console.log = () => {};
Promise.resolve(handler(event, context)).then((summary) => {
  process.stdout.write(JSON.stringify({ summary, loaded, peakKb: process.resourceUsage().maxRSS }) + '\\n');
  process.exit(0);
}, (error) => { process.stderr.write(String(error && error.message) + '\\n'); process.exit(1); });
`;

async function seedState(directory: string, flowIds: string[]): Promise<void> {
  const store = new FileStateStore(directory);
  const longAgo = Date.now() - 24 * 3600 * 1000;
  await store.put(discoveryKey(CUST_SPACE), { lastRunAt: Date.now(), flowIds }, 0);
  for (const [index, flowId] of flowIds.entries()) {
    const record = newFlowRecord(flowId, CUST_SPACE, `bench_${index}`);
    record.status = 'PUBLISHED';
    record.statusSince = new Date(longAgo).toISOString();
    record.lastCheckedAt = longAgo + index;
    await store.put(flowKey(flowId, CUST_SPACE), record, 0);
  }
}

function runChild(
  env: NodeJS.ProcessEnv,
): Promise<{ summary: { flowsChecked: number }; loaded: number; peakKb: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, BUNDLE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('exit', (code) => {
      if (code === 0) resolvePromise(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'));
      else reject(new Error(`poller memory run failed: ${stderr.trim()}`));
    });
  });
}

export async function benchPollerMemory(flowCount: number, runSeconds: number): Promise<PollerMemoryResult> {
  const flowIds = Array.from({ length: flowCount }, (_, index) => String(800000000000000 + index));
  const simulator = await spawnSimulator(
    flowIds.map((flowId, index) => ({
      flowId,
      custSpaceId: CUST_SPACE,
      flowName: `bench_${index}`,
      status: 'PUBLISHED',
    })),
    5,
  );
  const directory = mkdtempSync(join(tmpdir(), 'cfw-bench-memory-'));
  try {
    await seedState(directory, flowIds);
    const result = await runChild({
      PATH: process.env.PATH ?? '',
      CAMS_ENDPOINT: simulator.endpoint,
      WATCH_CUST_SPACES: CUST_SPACE,
      STATE_URL: `file:${directory}`,
      POLL_QPS: '4',
      BENCH_CREDENTIALS: JSON.stringify(SIMULATOR_CREDENTIALS),
      BENCH_TIMEOUT: String(runSeconds),
    });
    return {
      flows: flowCount,
      runSeconds,
      flowsChecked: result.summary.flowsChecked,
      peakRssMb: round(result.peakKb / 1024, 0),
      loadedRssMb: round(result.loaded / 2 ** 20, 0),
    };
  } finally {
    await simulator.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Part 2: bundle sizes, the time to load each bundle, and the time from a fresh `node` process
 * to the first answered request — as deployed: STATE_URL on Tablestore (the loopback wire-protocol
 * server), a store read before the flow read. The poller's cold start is the time to its first
 * GetFlow (every run on a new instance waits for it).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../local/cams-simulator';
import { startTablestoreServer } from '../local/tablestore-server';
import { bundleOptions } from '../scripts/bundle-options.mjs';
import { median, round } from './stats';
import type { Target } from './target';

const FLOW = {
  flowId: '926753328126431',
  flowName: 'bench_flow',
  status: 'PUBLISHED',
  categories: ['OTHER'],
};
const INSTANCE = 'cfw-bench';
const BENCH_DIR = resolve('.local/bench');
const SDK_BUNDLE = `${BENCH_DIR}/sdk-handler/index.js`;
const DEPLOYED_BUNDLE = `${BENCH_DIR}/http-as-deployed/index.js`;
/** The official SDK's store, split out beside the bundle exactly as the build would. */
const TABLESTORE_SDK = `${BENCH_DIR}/http-as-deployed/tablestore-sdk.js`;
/** The floor: a handler that answers at once, so what remains is node's own start. */
const EMPTY_BUNDLE = `${BENCH_DIR}/empty-handler/index.js`;

export type ColdStartHandler =
  | 'core + store'
  | 'core + SDK store'
  | 'core, no store'
  | 'sdk'
  | 'node only'
  | 'poller'
  | 'tablestore SDK alone';

export interface ColdStartResult {
  readonly handler: ColdStartHandler;
  readonly bundleBytes: number;
  /** Median time to `require` the bundle in a fresh process (undefined for the floor). */
  readonly requireMs: number | null;
  /** Fresh process → first answer (HTTP) or first GetFlow at the simulator (poller). */
  readonly firstAnswerMs: number | null;
  readonly runs: number;
}

/** The child loads the bundle and answers one FC HTTP event; everything it does is in the timing. */
const HTTP_CHILD = `
const { handler } = require(process.argv[1]);
const event = Buffer.from(JSON.stringify({
  version: 'v1', rawPath: '/flows/${FLOW.flowId}', body: '', isBase64Encoded: false,
  headers: { Accept: 'application/json' }, queryParameters: {},
  requestContext: { requestId: 'bench', http: { method: 'GET', path: '/flows/${FLOW.flowId}' } },
}));
const context = { requestId: 'bench-cold', credentials: JSON.parse(process.env.BENCH_CREDENTIALS),
  function: { name: 'bench', timeout: 10 }, region: 'local', accountId: '0' };
Promise.resolve(handler(event, context)).then((answer) => {
  if (!answer || answer.statusCode !== 200) { console.error(JSON.stringify(answer)); process.exit(1); }
  process.stdout.write('answered\\n');
  process.exit(0);
}, (error) => { console.error(error && error.message); process.exit(1); });
`;

/** The poller runs until killed; the parent times the first GetFlow the simulator receives. */
const POLLER_CHILD = `
const { handler } = require(process.argv[1]);
const context = { requestId: 'bench-cold', credentials: JSON.parse(process.env.BENCH_CREDENTIALS),
  function: { name: 'bench', timeout: 10 } };
handler(Buffer.from('{"triggerName":"bench"}'), context);
`;

const REQUIRE_CHILD = `
const startedAt = performance.now();
require(process.argv[1]);
process.stdout.write(String(performance.now() - startedAt) + '\\n');
process.exit(0);
`;

interface ChildRun {
  readonly script: string;
  readonly bundle: string;
  readonly env: NodeJS.ProcessEnv;
  /** Resolves the run's figure from the child's stdout, or from outside (the poller). */
  readonly until: (stdout: string, startedAt: number) => number | undefined;
  readonly poll?: (startedAt: number) => number | undefined;
}

function runChild(run: ChildRun): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const startedAt = performance.now();
    const startedAtMs = Date.now();
    const child = spawn(process.execPath, ['-e', run.script, run.bundle], {
      env: run.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const settle = (figure: number) => {
      if (settled) return;
      settled = true;
      clearInterval(poller);
      child.kill('SIGKILL');
      resolvePromise(figure);
    };
    const poller = setInterval(() => {
      const figure = run.poll?.(startedAtMs);
      if (figure !== undefined) settle(figure);
    }, 1);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const figure = run.until(stdout, startedAt);
      if (figure !== undefined) settle(figure);
    });
    child.on('exit', (code) => {
      clearInterval(poller);
      if (!settled) reject(new Error(`cold start of ${run.bundle} failed (${code}): ${stderr.trim()}`));
    });
  });
}

const answered = (stdout: string, startedAt: number) =>
  stdout.includes('answered') ? performance.now() - startedAt : undefined;
const reported = (stdout: string) => (stdout.includes('\n') ? Number.parseFloat(stdout) : undefined);

export async function benchColdStart(runs: number): Promise<ColdStartResult[]> {
  await build({ entryPoints: ['bench/sdk-handler.ts'], outfile: SDK_BUNDLE, ...bundleOptions });
  await build({ entryPoints: ['bench/http-as-deployed.ts'], outfile: DEPLOYED_BUNDLE, ...bundleOptions });
  mkdirSync(dirname(EMPTY_BUNDLE), { recursive: true });
  writeFileSync(EMPTY_BUNDLE, 'exports.handler = async () => ({ statusCode: 200 });\n');
  const simulator = await startCamsSimulator({ rateLimit: false, flows: [FLOW] });
  const tablestore = await startTablestoreServer({
    instance: INSTANCE,
    credentials: [SIMULATOR_CREDENTIALS],
  });
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      CAMS_ENDPOINT: simulator.endpoint,
      HTTP_AUTH: 'none',
      STATE_URL: `tablestore://${INSTANCE}/bench_state`,
      TABLESTORE_ENDPOINT: tablestore.endpoint,
      WATCH_FLOWS: FLOW.flowId,
      BENCH_CREDENTIALS: JSON.stringify(SIMULATOR_CREDENTIALS),
    };
    const firstGetFlowAfter = (startedAtMs: number) => {
      const call = simulator.calls.find((entry) => entry.at >= startedAtMs && entry.action === 'GetFlow');
      return call ? call.at - startedAtMs : undefined;
    };
    const cases: ReadonlyArray<{ name: ColdStartHandler; bundle: string; run: ChildRun }> = [
      {
        name: 'core + store',
        bundle: DEPLOYED_BUNDLE,
        run: { script: HTTP_CHILD, bundle: DEPLOYED_BUNDLE, env, until: answered },
      },
      {
        name: 'core + SDK store',
        bundle: DEPLOYED_BUNDLE,
        run: {
          script: HTTP_CHILD,
          bundle: DEPLOYED_BUNDLE,
          env: { ...env, BENCH_STORE: 'sdk' },
          until: answered,
        },
      },
      {
        name: 'core, no store',
        bundle: resolve('dist/http/index.js'),
        run: { script: HTTP_CHILD, bundle: resolve('dist/http/index.js'), env, until: answered },
      },
      {
        name: 'sdk',
        bundle: SDK_BUNDLE,
        run: { script: HTTP_CHILD, bundle: SDK_BUNDLE, env, until: answered },
      },
      {
        name: 'node only',
        bundle: EMPTY_BUNDLE,
        run: { script: HTTP_CHILD, bundle: EMPTY_BUNDLE, env, until: answered },
      },
      {
        name: 'poller',
        bundle: resolve('dist/poller/index.js'),
        run: {
          script: POLLER_CHILD,
          bundle: resolve('dist/poller/index.js'),
          env,
          until: () => undefined,
          poll: firstGetFlowAfter,
        },
      },
    ];
    const timings = new Map<ColdStartHandler, number[]>(cases.map(({ name }) => [name, []]));
    const requireTimings = new Map<string, number[]>();
    const requireOf = [...new Set([...cases.map(({ bundle }) => bundle), TABLESTORE_SDK])];
    // Interleaved, so drift in machine load affects every handler alike.
    for (let run = 0; run < runs; run += 1) {
      for (const { name, run: child } of cases) timings.get(name)?.push(await runChild(child));
      for (const bundle of requireOf) {
        const figure = await runChild({ script: REQUIRE_CHILD, bundle, env, until: reported });
        requireTimings.set(bundle, [...(requireTimings.get(bundle) ?? []), figure]);
      }
    }
    const requireMs = (bundle: string) => round(median(requireTimings.get(bundle) ?? []));
    const results: ColdStartResult[] = cases.map(({ name, bundle }) => ({
      handler: name,
      bundleBytes: statSync(bundle).size + (name === 'core + SDK store' ? statSync(TABLESTORE_SDK).size : 0),
      requireMs: name === 'node only' ? null : requireMs(bundle),
      firstAnswerMs: round(median(timings.get(name) ?? [])),
      runs,
    }));
    const sdkAlone: ColdStartResult = {
      handler: 'tablestore SDK alone',
      bundleBytes: statSync(TABLESTORE_SDK).size,
      requireMs: requireMs(TABLESTORE_SDK),
      firstAnswerMs: null,
      runs,
    };
    return [...results, sdkAlone];
  } finally {
    await tablestore.close();
    await simulator.close();
  }
}

/** The goals: HTTP bundle ≤ 350 KB; what ours adds to node's start ≤ ⅓ of what the SDK's adds. */
export function coldStartTargets(cold: readonly ColdStartResult[]): Target[] {
  const figure = (name: ColdStartHandler) => cold.find((row) => row.handler === name);
  const targets: Target[] = [];
  const http = figure('core, no store');
  if (http) {
    const sizeKb = round(http.bundleBytes / 1024, 1);
    targets.push({ name: 'HTTP bundle size KB', figure: sizeKb, target: '<= 350', met: sizeKb <= 350 });
  }
  const floor = figure('node only')?.firstAnswerMs;
  const sdk = figure('sdk')?.firstAnswerMs;
  const ours = figure('core + store')?.firstAnswerMs;
  if (floor != null && sdk != null && ours != null) {
    const ratio = round((ours - floor) / (sdk - floor));
    targets.push({
      name: 'first answer above node: core + store / sdk',
      figure: ratio,
      target: '<= 0.33',
      met: ratio <= 1 / 3,
    });
  }
  return targets;
}

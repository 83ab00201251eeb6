/**
 * Part 2: bundle sizes, the time to load each bundle, and the time from a fresh `node` process
 * to the first answered request — as deployed: the built dist/http/index.js with STATE_URL on
 * Tablestore (the loopback wire-protocol server), both services over https as in the cloud, and the
 * bearer-token check s.yaml turns on by default. Two first answers: a watched flow, answered from
 * the poller's stored answer (the common case, no CAMS call), and an unwatched flow (store miss,
 * budget counters, CAMS, the shared cache write). The poller's cold start is the time to its first
 * GetFlow (every run on a new instance waits for it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../local/cams-simulator';
import { startTablestoreServer } from '../local/tablestore-server';
import { bundleOptions } from '../scripts/bundle-options.mjs';
import { createCamsClient } from '../shared/cams';
import { flowKey } from '../shared/poller/records';
import { sharedCacheKey } from '../shared/read-model';
import { createStateStore } from '../shared/state';
import { median, round } from './stats';
import type { Target } from './target';

const WATCHED_FLOW = {
  flowId: '926753328126431',
  flowName: 'bench_flow',
  status: 'PUBLISHED',
  categories: ['OTHER'],
};
const UNWATCHED_FLOW = { ...WATCHED_FLOW, flowId: '926753328126432', flowName: 'bench_unwatched' };
const INSTANCE = 'cfw-bench';
const TABLE = 'bench_state';
/** The poller's own table, so the HTTP cases' stored answer does not make it skip its first check. */
const POLLER_TABLE = 'bench_poller_state';
const BENCH_DIR = resolve('.local/bench');
/**
 * CAMS and Tablestore answer over https in the cloud (docs/deploy.md), so the stand-ins do here: a
 * handler pays for node's tls and the handshakes as deployed. Every child (and the bench itself,
 * see bench/run.ts) trusts this loopback certificate through NODE_EXTRA_CA_CERTS, which costs them
 * all alike.
 */
export const BENCH_TLS_CERT = resolve('test/fixtures/loopback-tls.crt');
const BENCH_TLS_KEY = resolve('test/fixtures/loopback-tls.key');
/** s.yaml's default HTTP_AUTH is token: the bench's requests carry one. */
const BENCH_TOKEN = 'bench-cold-start-token';
const HTTP_BUNDLE = resolve('dist/http/index.js');
const POLLER_BUNDLE = resolve('dist/poller/index.js');
/** What the HTTP bundle loads only on its first CAMS call (scripts/bundle-options.mjs). */
const HTTP_LAZY_UNDICI = resolve('dist/http/undici.js');
const SDK_BUNDLE = `${BENCH_DIR}/sdk-handler/index.js`;
/** The watched answer's floor: the same store read and nothing else (bench/store-read-handler.ts). */
const STORE_READ_BUNDLE = `${BENCH_DIR}/store-read-handler/index.js`;
/** The official Tablestore SDK, split out beside a bundle exactly as the build would. */
const TABLESTORE_SDK = `${BENCH_DIR}/tablestore-sdk/tablestore-sdk.js`;
/** The floor: a handler that answers at once, so what remains is node's own start. */
const EMPTY_BUNDLE = `${BENCH_DIR}/empty-handler/index.js`;

export type ColdStartHandler =
  | 'http: watched flow (store)'
  | 'http: unwatched flow (store, budget, CAMS)'
  | 'http lazy part: undici.js'
  | 'store read alone (watched floor)'
  | 'sdk'
  | 'node only'
  | 'poller'
  | 'tablestore SDK alone';

/** What `s deploy` uploads per function: every file of its dist/ folder, in bytes. */
export interface DeployedSize {
  readonly function: 'http' | 'poller';
  readonly bytes: number;
  readonly files: readonly string[];
}

export interface ColdStartResult {
  readonly handler: ColdStartHandler;
  /** The code this row's first answer loads: index.js, plus any lazy part it needs. */
  readonly bundleBytes: number;
  /** Median time to `require` the bundle (or the lazy part alone) in a fresh process. */
  readonly requireMs: number | null;
  /** Fresh process → first answer (HTTP) or first GetFlow at the simulator (poller). */
  readonly firstAnswerMs: number | null;
  /** Calls the first answer made, in the last run, at the Tablestore and CAMS stand-ins (some run in parallel). */
  readonly storeCalls: number | null;
  readonly camsCalls: number | null;
  readonly runs: number;
}

/** The child loads the bundle and answers one FC HTTP event; everything it does is in the timing. */
const HTTP_CHILD = `
const { handler } = require(process.argv[1]);
const flowId = process.env.BENCH_FLOW_ID;
const event = Buffer.from(JSON.stringify({
  version: 'v1', rawPath: '/flows/' + flowId, body: '', isBase64Encoded: false,
  headers: { Accept: 'application/json', Authorization: 'Bearer ' + process.env.BENCH_TOKEN }, queryParameters: {},
  requestContext: { requestId: 'bench', http: { method: 'GET', path: '/flows/' + flowId } },
}));
const context = { requestId: 'bench-cold', credentials: JSON.parse(process.env.BENCH_CREDENTIALS),
  function: { name: 'bench', timeout: 10 }, region: 'local', accountId: '0' };
Promise.resolve(handler(event, context)).then((answer) => {
  if (!answer || answer.statusCode !== 200) { console.error(JSON.stringify(answer)); process.exit(1); }
  const source = (answer.headers || {})['cache-status'];
  if (process.env.BENCH_SOURCE && !String(source).includes(process.env.BENCH_SOURCE)) {
    console.error('answered from ' + source + ', not ' + process.env.BENCH_SOURCE); process.exit(1);
  }
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
  /** Puts the store as this case needs it, outside the timing. */
  readonly prepare?: () => Promise<void>;
}

async function runChild(run: ChildRun): Promise<number> {
  await run.prepare?.();
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
  if (!existsSync(HTTP_BUNDLE) || !existsSync(HTTP_LAZY_UNDICI)) {
    throw new Error('dist/http/index.js and undici.js beside it are missing: npm run build first');
  }
  if (process.env.NODE_EXTRA_CA_CERTS !== BENCH_TLS_CERT) {
    throw new Error(
      `the cold-start bench needs NODE_EXTRA_CA_CERTS=${BENCH_TLS_CERT}: run it through npm run bench`,
    );
  }
  const tls = { key: readFileSync(BENCH_TLS_KEY), cert: readFileSync(BENCH_TLS_CERT) };
  await build({ entryPoints: ['bench/sdk-handler.ts'], outfile: SDK_BUNDLE, ...bundleOptions });
  await build({ entryPoints: ['bench/store-read-handler.ts'], outfile: STORE_READ_BUNDLE, ...bundleOptions });
  // The build's own plugin puts the SDK in tablestore-sdk.js beside this stub.
  await build({
    stdin: { contents: "require('tablestore');", resolveDir: process.cwd() },
    outfile: join(dirname(TABLESTORE_SDK), 'index.js'),
    ...bundleOptions,
  });
  mkdirSync(dirname(EMPTY_BUNDLE), { recursive: true });
  writeFileSync(EMPTY_BUNDLE, 'exports.handler = async () => ({ statusCode: 200 });\n');
  const simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [WATCHED_FLOW, UNWATCHED_FLOW],
    tls,
  });
  const tablestore = await startTablestoreServer({
    instance: INSTANCE,
    credentials: [SIMULATOR_CREDENTIALS],
    tls,
  });
  const openStore = (table: string) =>
    createStateStore(`tablestore://${INSTANCE}/${table}`, {
      credentials: SIMULATOR_CREDENTIALS,
      env: { TABLESTORE_ENDPOINT: tablestore.endpoint },
    });
  const store = await openStore(TABLE);
  const pollerStore = await openStore(POLLER_TABLE);
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: BENCH_TLS_CERT,
      CAMS_ENDPOINT: simulator.endpoint,
      HTTP_API_TOKENS: BENCH_TOKEN,
      BENCH_TOKEN,
      STATE_URL: `tablestore://${INSTANCE}/${TABLE}`,
      TABLESTORE_ENDPOINT: tablestore.endpoint,
      WATCH_FLOWS: WATCHED_FLOW.flowId,
      BENCH_CREDENTIALS: JSON.stringify(SIMULATOR_CREDENTIALS),
    };
    // The poller's record as it keeps it: the full GetFlow answer, and when it was read.
    const watchedAnswer = await createCamsClient({ endpoint: simulator.endpoint }).getFlow(
      { flowId: WATCHED_FLOW.flowId, custSpaceId: undefined },
      { credentials: SIMULATOR_CREDENTIALS },
    );
    const watchedKey = flowKey(WATCHED_FLOW.flowId, undefined);
    const unwatchedKey = sharedCacheKey(UNWATCHED_FLOW.flowId, undefined);
    /** A poller answer read just now, so the HTTP function serves it (HTTP_MAX_AGE_SECONDS). */
    const storeFreshWatchedAnswer = async () => {
      const version = (await store.get(watchedKey))?.version ?? 0;
      await store.put(watchedKey, { lastRead: { flow: watchedAnswer, readAt: Date.now() } }, version);
    };
    const forget = async (from: typeof store, key: string) => {
      const entry = await from.get(key);
      if (entry) await from.delete(key, entry.version);
    };
    /** No shared cache entry from the previous round: the unwatched flow is a miss again. */
    const forgetSharedAnswer = () => forget(store, unwatchedKey);
    /** A new deployment's first run: the flow is due at once. */
    const forgetPollerRecord = () => forget(pollerStore, watchedKey);
    const firstGetFlowAfter = (startedAtMs: number) => {
      const call = simulator.calls.find((entry) => entry.at >= startedAtMs && entry.action === 'GetFlow');
      return call ? call.at - startedAtMs : undefined;
    };
    const httpRun = (flowId: string, source: string, prepare: () => Promise<void>): ChildRun => ({
      script: HTTP_CHILD,
      bundle: HTTP_BUNDLE,
      env: { ...env, BENCH_FLOW_ID: flowId, BENCH_SOURCE: source },
      until: answered,
      prepare,
    });
    /** Another bundle asked for the watched flow: the SDK handler's, or the store read alone. */
    const watchedFlowRun = (bundle: string, prepare?: () => Promise<void>): ChildRun => ({
      script: HTTP_CHILD,
      bundle,
      env: { ...env, BENCH_FLOW_ID: WATCHED_FLOW.flowId },
      until: answered,
      ...(prepare ? { prepare } : {}),
    });
    const cases: ReadonlyArray<{ name: ColdStartHandler; bytes: number; run: ChildRun }> = [
      {
        name: 'http: watched flow (store)',
        bytes: statSync(HTTP_BUNDLE).size,
        run: httpRun(WATCHED_FLOW.flowId, 'detail=watch', storeFreshWatchedAnswer),
      },
      {
        name: 'http: unwatched flow (store, budget, CAMS)',
        bytes: statSync(HTTP_BUNDLE).size + statSync(HTTP_LAZY_UNDICI).size,
        run: httpRun(UNWATCHED_FLOW.flowId, 'fwd=miss', forgetSharedAnswer),
      },
      {
        name: 'store read alone (watched floor)',
        bytes: statSync(STORE_READ_BUNDLE).size,
        run: watchedFlowRun(STORE_READ_BUNDLE, storeFreshWatchedAnswer),
      },
      {
        name: 'sdk',
        bytes: statSync(SDK_BUNDLE).size,
        run: watchedFlowRun(SDK_BUNDLE),
      },
      {
        name: 'node only',
        bytes: statSync(EMPTY_BUNDLE).size,
        run: { script: HTTP_CHILD, bundle: EMPTY_BUNDLE, env, until: answered },
      },
      {
        name: 'poller',
        bytes: statSync(POLLER_BUNDLE).size + statSync(join(dirname(POLLER_BUNDLE), 'undici.js')).size,
        run: {
          script: POLLER_CHILD,
          bundle: POLLER_BUNDLE,
          env: { ...env, STATE_URL: `tablestore://${INSTANCE}/${POLLER_TABLE}` },
          until: () => undefined,
          poll: firstGetFlowAfter,
          prepare: forgetPollerRecord,
        },
      },
    ];
    const timings = new Map<ColdStartHandler, number[]>(cases.map(({ name }) => [name, []]));
    const roundTrips = new Map<ColdStartHandler, { storeCalls: number; camsCalls: number }>();
    const requireTimings = new Map<string, number[]>();
    const requireOf = [...new Set([...cases.map(({ run }) => run.bundle), HTTP_LAZY_UNDICI, TABLESTORE_SDK])];
    // Interleaved, so drift in machine load affects every handler alike.
    for (let run = 0; run < runs; run += 1) {
      for (const { name, run: child } of cases) {
        // The store as this case needs it first, so only the child's own calls are counted.
        const { prepare, ...timed } = child;
        await prepare?.();
        const before = { store: tablestore.calls.length, cams: simulator.calls.length };
        timings.get(name)?.push(await runChild(timed));
        roundTrips.set(name, {
          storeCalls: tablestore.calls.length - before.store,
          camsCalls: simulator.calls.length - before.cams,
        });
      }
      for (const bundle of requireOf) {
        const figure = await runChild({ script: REQUIRE_CHILD, bundle, env, until: reported });
        requireTimings.set(bundle, [...(requireTimings.get(bundle) ?? []), figure]);
      }
    }
    const requireMs = (bundle: string) => round(median(requireTimings.get(bundle) ?? []));
    const results: ColdStartResult[] = cases.map(({ name, bytes, run }) => ({
      handler: name,
      bundleBytes: bytes,
      requireMs: name === 'node only' ? null : requireMs(run.bundle),
      firstAnswerMs: round(median(timings.get(name) ?? [])),
      // The poller runs on after its first GetFlow until it is killed: its calls are no figure.
      storeCalls: name === 'poller' ? null : (roundTrips.get(name)?.storeCalls ?? null),
      camsCalls: name === 'poller' ? null : (roundTrips.get(name)?.camsCalls ?? null),
      runs,
    }));
    const requireOnly = (handler: ColdStartHandler, bundle: string): ColdStartResult => ({
      handler,
      bundleBytes: statSync(bundle).size,
      requireMs: requireMs(bundle),
      firstAnswerMs: null,
      storeCalls: null,
      camsCalls: null,
      runs,
    });
    return [
      ...results.slice(0, 2),
      requireOnly('http lazy part: undici.js', HTTP_LAZY_UNDICI),
      ...results.slice(2),
      requireOnly('tablestore SDK alone', TABLESTORE_SDK),
    ];
  } finally {
    await store.close();
    await pollerStore.close();
    await tablestore.close();
    await simulator.close();
  }
}

/**
 * The goals: what loads on the HTTP function's first answer ≤ 350 KB; what ours adds to
 * node's start ≤ ⅓ of what the SDK-based handler adds. Both first answers are held to them: a
 * watched flow's (the common case) and an unwatched flow's (which also loads undici for CAMS).
 */
export function coldStartTargets(
  cold: readonly ColdStartResult[],
  deployed: readonly DeployedSize[] = [],
): Target[] {
  const figure = (name: ColdStartHandler) => cold.find((row) => row.handler === name);
  const floor = figure('node only')?.firstAnswerMs;
  const sdk = figure('sdk')?.firstAnswerMs;
  const targets: Target[] = [];
  for (const [path, name] of [
    ['watched', 'http: watched flow (store)'],
    ['unwatched', 'http: unwatched flow (store, budget, CAMS)'],
  ] as const) {
    const row = figure(name);
    if (!row) continue;
    // Judged on the figures as measured; only the shown figure is rounded.
    const sizeKb = row.bundleBytes / 1024;
    targets.push({
      name: `HTTP code loaded by the first answer KB, ${path} flow`,
      figure: round(sizeKb, 1),
      target: '<= 350',
      met: sizeKb <= 350,
    });
    if (floor != null && sdk != null && row.firstAnswerMs != null) {
      const ratio = (row.firstAnswerMs - floor) / (sdk - floor);
      targets.push({
        name: `first answer above node, ${path} flow / sdk`,
        figure: round(ratio),
        target: '<= 0.33',
        met: ratio <= 1 / 3,
      });
    }
  }
  const http = deployed.find((size) => size.function === 'http');
  if (http) {
    const deployedKb = http.bytes / 1024;
    targets.push({
      name: 'HTTP function deployed code KB (every file of dist/http)',
      figure: round(deployedKb, 1),
      target: '<= 350',
      met: deployedKb <= 350,
    });
  }
  return targets;
}

/** Every file `s deploy` uploads for each function (its dist/ folder), for the README. */
export function deployedSizes(): DeployedSize[] {
  return (['http', 'poller'] as const).map((name) => {
    const folder = resolve('dist', name);
    const files = readdirSync(folder).sort();
    const bytes = files.reduce((sum, file) => sum + statSync(join(folder, file)).size, 0);
    return { function: name, bytes, files };
  });
}

/** Whether a target comes from this part of the bench (a partial run replaces exactly these). */
export function isColdStartTarget(name: string): boolean {
  return /^(HTTP bundle size|HTTP code loaded by the first answer|first answer above node|HTTP function deployed code)/.test(
    name,
  );
}

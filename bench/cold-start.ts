/** Part 2: bundle sizes and the time from a fresh `node` process to the first answered request. */
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../local/cams-simulator';
import { bundleOptions } from '../scripts/bundle-options.mjs';
import { median, round } from './stats';

const FLOW = {
  flowId: '926753328126431',
  flowName: 'bench_flow',
  status: 'PUBLISHED',
  categories: ['OTHER'],
};
const SDK_BUNDLE = resolve('.local/bench/sdk-handler/index.js');
/** The floor: a handler that answers at once, so what remains is node's own start. */
const EMPTY_BUNDLE = resolve('.local/bench/empty-handler/index.js');

export interface ColdStartResult {
  readonly handler: 'core' | 'sdk' | 'node only';
  readonly bundleBytes: number;
  readonly firstAnswerMs: number;
  readonly runs: number;
}

/** The child loads the bundle and answers one FC HTTP event; everything it does is in the timing. */
const CHILD = `
const started = Date.now();
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

function timeOneColdStart(bundle: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const startedAt = performance.now();
    const child = spawn(process.execPath, ['-e', CHILD, bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('answered')) resolvePromise(performance.now() - startedAt);
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`cold start of ${bundle} failed: ${stderr.trim()}`));
    });
  });
}

export async function benchColdStart(runs: number): Promise<ColdStartResult[]> {
  await build({
    entryPoints: ['bench/sdk-handler.ts'],
    outfile: SDK_BUNDLE,
    ...bundleOptions,
  });
  mkdirSync(dirname(EMPTY_BUNDLE), { recursive: true });
  writeFileSync(EMPTY_BUNDLE, 'exports.handler = async () => ({ statusCode: 200 });\n');
  const simulator = await startCamsSimulator({ rateLimit: false, flows: [FLOW] });
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      CAMS_ENDPOINT: simulator.endpoint,
      HTTP_AUTH: 'none',
      BENCH_CREDENTIALS: JSON.stringify(SIMULATOR_CREDENTIALS),
    };
    const results: ColdStartResult[] = [];
    const bundles = [
      ['core', resolve('dist/http/index.js')],
      ['sdk', SDK_BUNDLE],
      ['node only', EMPTY_BUNDLE],
    ] as const;
    const timings: Record<string, number[]> = { core: [], sdk: [], 'node only': [] };
    // Interleaved, so drift in machine load affects both alike.
    for (let run = 0; run < runs; run += 1) {
      for (const [name, bundle] of bundles) timings[name]?.push(await timeOneColdStart(bundle, env));
    }
    for (const [name, bundle] of bundles) {
      results.push({
        handler: name,
        bundleBytes: statSync(bundle).size,
        firstAnswerMs: round(median(timings[name] ?? [])),
        runs,
      });
    }
    return results;
  } finally {
    await simulator.close();
  }
}

/**
 * `npm run bench`: measures side by side, in one run, on loopback. Figures are ratios against
 * baselines measured in the same run, so they compare across machines better than absolutes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { BENCH_TLS_CERT, benchColdStart, coldStartTargets, deployedSizes } from './cold-start';
import { benchGetFlow, getflowTargets } from './getflow';
import { type BenchResults, type PartName, withBenchmarks } from './readme-section';
import { isPartName, mergePartialRun, tagTargets } from './results-file';
import { round, table } from './stats';

import type { Target } from './target';

/**
 * Settings node reads only at start, so the bench restarts itself with them. The FC emulator runs
 * instances as worker threads of this process, and they share libuv's file-system threads (4 by
 * default) where FC gives each instance its own; with dozens of instances on the file store that
 * queue, not the code, would set the latencies. And the cold-start part's stand-ins answer over
 * https with a loopback certificate this process must trust to set them up.
 */
function restartWithStartSettings(): boolean {
  if (process.env.UV_THREADPOOL_SIZE && process.env.NODE_EXTRA_CA_CERTS === BENCH_TLS_CERT) return false;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: {
      ...process.env,
      UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '64',
      NODE_EXTRA_CA_CERTS: BENCH_TLS_CERT,
    },
  });
  process.exitCode = child.status ?? 1;
  return true;
}

async function main(): Promise<void> {
  if (restartWithStartSettings()) return;
  const quick = process.argv.includes('--quick');
  const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
  if (only !== undefined && !isPartName(only)) throw new Error(`--only=${only}: no such part`);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  const results: Record<string, unknown> = {
    ranAt: new Date().toISOString(),
    commit: measuredCommit(),
    machine,
  };
  const targets: Target[] = [];
  /** Where each part's targets begin in `targets`, so a partial run replaces only its own. */
  const marks: Array<{ part: PartName; from: number }> = [];
  const runs = (part: PartName) => {
    if (only && only !== part) return false;
    marks.push({ part, from: targets.length });
    return true;
  };
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}\n`,
  );

  if (runs('getflow')) {
    const getflow = await benchGetFlow(quick ? 500 : 3000);
    results.getflow = getflow;
    console.log('GetFlow on a warm instance (simulator, limit off)');
    console.log(
      table(
        ['client', 'concurrency', 'req/s', 'p50 ms', 'p99 ms'],
        getflow.map((row) => [row.client, row.concurrency, row.requestsPerSecond, row.p50Ms, row.p99Ms]),
      ),
    );
    // Against the SDK, warm req/s is information only: at 5 GetFlow calls/s per account the
    // budget, not client CPU, bounds throughput.
    targets.push(...getflowTargets(getflow));
    console.log('');
  }

  if (runs('cold')) {
    const cold = await benchColdStart(quick ? 3 : 11);
    results.coldStart = cold;
    console.log(
      'Cold start: fresh node process to first answer (HTTP) or first GetFlow (poller), STATE_URL on Tablestore',
    );
    console.log(
      table(
        ['handler', 'bundle KB', 'require ms', 'first answer ms (median)'],
        cold.map((row) => [
          row.handler,
          round(row.bundleBytes / 1024, 1),
          row.requireMs ?? '–',
          row.firstAnswerMs ?? '–',
        ]),
      ),
    );
    const deployed = deployedSizes();
    results.deployed = deployed;
    console.log(
      `deployed code: ${deployed.map((size) => `${size.function} ${round(size.bytes / 1024, 1)} KB (${size.files.join(', ')})`).join('; ')}`,
    );
    targets.push(...coldStartTargets(cold, deployed));
    console.log('');
  }

  if (runs('poller')) {
    const { benchPoller } = await import('./poller');
    const poller = await benchPoller({ quick });
    results.poller = poller.rows;
    console.log('Poller (simulator enforcing 5 calls/s)');
    console.log(poller.table);
    targets.push(...poller.targets);
    console.log('');
    const { benchPollerMemory } = await import('./poller-memory');
    const memory = [];
    for (const flows of quick ? [5000] : [500, 5000])
      memory.push(await benchPollerMemory(flows, quick ? 10 : 20));
    results.pollerMemory = memory;
    console.log(
      'Poller function memory: built bundle, fresh node process, one timer run, state for every flow',
    );
    console.log(
      table(
        ['flows', 'run s', 'flows checked', 'RSS after load MB', 'peak RSS MB'],
        memory.map((row) => [row.flows, row.runSeconds, row.flowsChecked, row.loadedRssMb, row.peakRssMb]),
      ),
    );
    const largest = memory.at(-1);
    if (largest) {
      targets.push({
        name: `poller peak RSS MB at ${largest.flows} flows`,
        figure: largest.peakRssMb,
        target: '< 128',
        met: largest.peakRssMb < 128,
      });
    }
    console.log('');
  }

  if (runs('load')) {
    const { runAccountLoad } = await import('./account-load');
    const load = await runAccountLoad(
      quick
        ? { callers: 20, durationMs: 10_000, pollQps: 2, pollIntervalS: 5, pollRunS: 5 }
        : { callers: 50, durationMs: 30_000, pollQps: 2, pollIntervalS: 10, pollRunS: 10 },
    );
    results.accountLoad = load;
    console.log(
      `Account under load: ${load.callers} callers for ${load.durationS} s through the FC emulator (cap ${load.maxInstances} instances), 20 watched + 20 unwatched flows read, poller on 100 watched flows, CAMS simulator at 5 calls/s`,
    );
    console.log(
      table(
        ['answered from', 'requests', 'p50 ms', 'p99 ms'],
        Object.entries(load.bySource).map(([source, summary]) => [
          source,
          summary?.count ?? 0,
          summary?.p50Ms ?? Number.NaN,
          summary?.p99Ms ?? Number.NaN,
        ]),
      ),
    );
    console.log(
      `requests ${load.requests}, instances started ${load.instancesStarted}, CAMS calls ${load.camsCalls} (poller ${load.pollerCamsCalls}, HTTP ${load.httpCamsCalls}), CAMS calls/s mean ${load.camsCallsPerSecond.mean}, busiest sampled second ${load.camsCallsPerSecond.max}`,
    );
    for (const [name, figure] of [
      ['System.LimitControl at CAMS under load', load.limitControl],
      ['answers >= 500 under load', load.answersAtLeast500],
      ['emulator 429s below the instance cap', load.emulatorThrottled],
      ['HTTP CAMS calls for watched flows', load.httpCamsCallsForWatched],
      ['instances that fell back to a local limit', load.budgetFallbacks],
    ] as const) {
      targets.push({ name, figure, target: '0', met: figure === 0 });
    }
    console.log('');
  }

  results.targets = tagTargets(targets, marks);
  console.log('Targets');
  console.log(
    table(
      ['target', 'figure', 'wanted', 'met'],
      targets.map((target) => [target.name, target.figure, target.target, target.met ? 'yes' : 'NO']),
    ),
  );
  // Quick runs are smoke runs and land in .local/; a full-length `--only` run replaces its own
  // part of the published figures and keeps the others.
  const output = quick ? '.local/bench/results-partial.json' : 'bench/results.json';
  const published =
    only && !quick
      ? mergePartialRun(
          JSON.parse(readFileSync(output, 'utf8')) as BenchResults,
          results as unknown as BenchResults,
          only,
        )
      : results;
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${JSON.stringify(published, null, 2)}\n`);
  console.log(`\nwrote ${output}`);
  if (output === 'bench/results.json') {
    writeFileSync(
      'README.md',
      withBenchmarks(readFileSync('README.md', 'utf8'), published as unknown as BenchResults),
    );
    console.log('updated the README benchmark section from it');
  }
}

/**
 * The commit the figures were measured on, `-dirty` when tracked files other than the ones the
 * bench writes differ from it: a reader can tell which code a published figure belongs to.
 */
function measuredCommit(): string {
  const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git('rev-parse', '--short=12', 'HEAD');
  if (head.status !== 0) return 'unknown';
  const changed = git('status', '--porcelain', '--untracked-files=no')
    .stdout.split('\n')
    .map((line) => line.slice(3).trim())
    .filter((path) => path !== '' && path !== 'README.md' && path !== 'bench/results.json');
  return `${head.stdout.trim()}${changed.length > 0 ? '-dirty' : ''}`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});

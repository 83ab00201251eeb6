/**
 * Many callers against the HTTP function as FC runs it (one request per instance, worker-thread
 * instances up to a cap), with the poller running on its own watch list, against the CAMS
 * simulator enforcing 5 calls/s for the account: the proof that the account-wide budget and the
 * read model hold under load. Used by `npm run bench` (50 callers × 30 s) and, shorter, a test.
 */
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import {
  type CamsSimulator,
  SIMULATOR_ACCESS_KEY,
  SIMULATOR_CREDENTIALS,
  startCamsSimulator,
} from '../local/cams-simulator';
import { FcFunction, fcTimerEvent, serveFcHttp } from '../local/fc-emulator';
import { startTablestoreServer } from '../local/tablestore-server';
import { seeded } from './seeded-random';
import { type LatencySummary, round, summarise } from './stats';

export interface AccountLoadOptions {
  readonly callers: number;
  readonly durationMs: number;
  /** Flows the poller watches; the first `watchedRead` of them are also read by callers. */
  readonly watchedFlows?: number;
  readonly watchedRead?: number;
  readonly unwatchedRead?: number;
  readonly maxInstances?: number;
  readonly pollQps?: number;
  /** How often the poller re-checks each watched flow, so it keeps drawing on the budget. */
  readonly pollIntervalS?: number;
  readonly pollRunS?: number;
  readonly cacheTtlS?: number;
  readonly seed?: number;
  /**
   * Callers join one by one over this long (default 200 ms each, at most a third of the run):
   * on one machine, dozens of instances starting in the same instant would measure the CPU
   * contention of their cold starts, which FC spreads over separate hosts.
   */
  readonly rampMs?: number;
}

export type AnswerSourceName = 'memory' | 'watch' | 'shared' | 'cams' | 'none';

export interface AccountLoadReport {
  readonly callers: number;
  readonly durationS: number;
  /** What the figures were measured with, so the README can say it without repeating it by hand. */
  readonly settings: {
    readonly watchedFlows: number;
    readonly watchedRead: number;
    readonly unwatchedRead: number;
    readonly pollQps: number;
    readonly pollIntervalS: number;
    readonly cacheTtlS: number;
    readonly rampS: number;
  };
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly answersAtLeast500: number;
  readonly emulatorThrottled: number;
  readonly instancesStarted: number;
  readonly maxInstances: number;
  readonly limitControl: number;
  /**
   * For each System.LimitControl, the calls CAMS counted in the second up to it, one line each
   * (ms since the load began, which function, flow, code, and for an HTTP call the request that
   * made it: its FC request id, when it began and ended, where its answer came from), so a
   * failure shows which calls broke the window.
   */
  readonly limitControlWindows: readonly string[];
  readonly camsCalls: number;
  readonly camsCallsPerSecond: { readonly mean: number; readonly max: number };
  readonly pollerCamsCalls: number;
  readonly httpCamsCalls: number;
  /** GetFlow calls the HTTP function made for flows the poller watches: the read model says 0. */
  readonly httpCamsCallsForWatched: number;
  readonly watchedAnswersFromCams: number;
  /** Instances that fell back to their local limit because the store was unreachable or too slow. */
  readonly budgetFallbacks: number;
  readonly bySource: Partial<Record<AnswerSourceName, LatencySummary>>;
}

const HTTP_BUNDLE = resolve('dist/http/index.js');
const POLLER_BUNDLE = resolve('dist/poller/index.js');

const watchedId = (index: number) => `92${String(index).padStart(13, '0')}`;
const unwatchedId = (index: number) => `93${String(index).padStart(13, '0')}`;

function sourceOf(cacheStatus: string | undefined): AnswerSourceName {
  if (!cacheStatus) return 'none';
  const detail = /detail=(\w+)/.exec(cacheStatus)?.[1];
  if (detail === 'memory' || detail === 'watch' || detail === 'shared') return detail;
  return /fwd=/.test(cacheStatus) ? 'cams' : 'none';
}

/** The poller, first at a generous budget until every watched flow has a stored answer. */
async function seedWatchedFlows(env: Record<string, string>): Promise<void> {
  const seeding = new FcFunction({
    bundle: POLLER_BUNDLE,
    functionName: 'cams-flow-watch-poller',
    env: { ...env, POLL_QPS: '100', CAMS_ACCOUNT_QPS: '1000' },
    credentials: SIMULATOR_CREDENTIALS,
    timeoutSeconds: 60,
    maxInstances: 1,
    log: () => {},
  });
  try {
    const run = await seeding.invoke(fcTimerEvent());
    const summary = run.ok ? (run.value as { flowsChecked?: number }) : undefined;
    if (!summary?.flowsChecked) throw new Error('seeding the watched flows failed');
  } finally {
    await seeding.close();
  }
}

export async function runAccountLoad(options: AccountLoadOptions): Promise<AccountLoadReport> {
  const watchedCount = options.watchedFlows ?? 100;
  const watchedRead = options.watchedRead ?? 20;
  const unwatchedRead = options.unwatchedRead ?? 20;
  const maxInstances = options.maxInstances ?? options.callers + 10;
  const random = seeded(options.seed ?? 42);
  const watched = Array.from({ length: watchedCount }, (_, index) => watchedId(index));
  const unwatched = Array.from({ length: unwatchedRead }, (_, index) => unwatchedId(index));
  const simulator: CamsSimulator = await startCamsSimulator({
    rateLimit: false,
    flows: [...watched, ...unwatched].map((flowId) => ({
      flowId,
      flowName: `load_${flowId}`,
      status: 'PUBLISHED',
    })),
  });
  // The state store as deployed: Tablestore (the loopback server speaking its wire protocol),
  // which both functions sign for with their role's keys.
  const tablestore = await startTablestoreServer({
    instance: 'cfw-load',
    credentials: [SIMULATOR_CREDENTIALS, SIMULATOR_ACCESS_KEY],
  });
  const common = {
    CAMS_ENDPOINT: simulator.endpoint,
    STATE_URL: 'tablestore://cfw-load/flow_state',
    TABLESTORE_ENDPOINT: tablestore.endpoint,
  };
  const pollerEnv = {
    ...common,
    WATCH_FLOWS: watched.join(','),
    POLL_INTERVALS: `PUBLISHED=${options.pollIntervalS ?? 10},*=${options.pollIntervalS ?? 10}`,
  };
  const closers: Array<() => Promise<void>> = [() => simulator.close(), () => tablestore.close()];
  try {
    // Default intervals for the seeding run: it ends once every flow is checked, instead of
    // waiting inside the run for the load's short intervals to come due again.
    await seedWatchedFlows({ ...common, WATCH_FLOWS: pollerEnv.WATCH_FLOWS });
    simulator.setRateLimit(5);
    // Counters of the seeding run's generous budget leave the rolling window first.
    await delay(1500);

    let budgetFallbacks = 0;
    // Instances log once when they fall back to their local limit (store unreachable or too slow).
    const countFallbacks = (line: string) => {
      if (line.includes('for the shared CAMS budget')) budgetFallbacks += 1;
    };
    // The HTTP function signs with another key of the same account, so the simulator can tell its
    // calls from the poller's while counting both against the account's 5 calls/s.
    const http = new FcFunction({
      bundle: HTTP_BUNDLE,
      functionName: 'cams-flow-watch-http',
      env: {
        ...common,
        HTTP_AUTH: 'none',
        HTTP_CACHE_TTL_SECONDS: String(options.cacheTtlS ?? 60),
        CAMS_ACCOUNT_QPS: '5',
        POLL_QPS: String(options.pollQps ?? 1),
        HTTP_MAX_INSTANCES: String(maxInstances),
      },
      credentials: SIMULATOR_ACCESS_KEY,
      timeoutSeconds: 10,
      maxInstances,
      log: countFallbacks,
    });
    const poller = new FcFunction({
      bundle: POLLER_BUNDLE,
      functionName: 'cams-flow-watch-poller',
      env: { ...pollerEnv, POLL_QPS: String(options.pollQps ?? 1), CAMS_ACCOUNT_QPS: '5' },
      credentials: SIMULATOR_CREDENTIALS,
      timeoutSeconds: options.pollRunS ?? 10,
      maxInstances: 1,
      log: countFallbacks,
    });
    closers.unshift(
      () => http.close(),
      () => poller.close(),
    );
    const server = await serveFcHttp(http);
    closers.unshift(() => server.close());
    const agent = new Agent({ connections: options.callers * 2, keepAliveTimeout: 30_000 });
    closers.unshift(() => agent.close());

    const callsBefore = simulator.calls.length;
    const startedAt = Date.now();
    const endAt = startedAt + options.durationMs;
    let isLoading = true;
    const pollerRuns = (async () => {
      while (isLoading) await poller.invoke(fcTimerEvent());
    })();
    const perSecond: number[] = [];
    const sampler = (async () => {
      let last = simulator.calls.length;
      while (isLoading) {
        await delay(1000);
        perSecond.push(simulator.calls.length - last);
        last = simulator.calls.length;
      }
    })();

    const samples: Array<{
      source: AnswerSourceName;
      isWatched: boolean;
      ms: number;
      status: number;
      flowId: string;
      began: number;
      ended: number;
      requestId: string;
    }> = [];
    const rampMs = options.rampMs ?? Math.min(options.durationMs / 3, options.callers * 200);
    await Promise.all(
      Array.from({ length: options.callers }, async (_, caller) => {
        await delay((caller * rampMs) / options.callers);
        while (Date.now() < endAt) {
          const isWatched = random() < 0.5;
          const flowId = isWatched
            ? (watched[Math.floor(random() * watchedRead)] ?? '')
            : (unwatched[Math.floor(random() * unwatchedRead)] ?? '');
          const began = performance.now();
          const beganAt = Date.now();
          const response = await request(`${server.url}/flows/${flowId}`, { dispatcher: agent });
          await response.body.text();
          const header = response.headers['cache-status'];
          const requestId = response.headers['x-fc-request-id'];
          samples.push({
            source: sourceOf(typeof header === 'string' ? header : undefined),
            isWatched,
            ms: performance.now() - began,
            status: response.statusCode,
            flowId,
            began: beganAt,
            ended: Date.now(),
            requestId: typeof requestId === 'string' ? requestId : '',
          });
        }
      }),
    );
    const durationS = (Date.now() - startedAt) / 1000;
    isLoading = false;
    const loadCalls = simulator.calls.slice(callsBefore);
    await Promise.all([pollerRuns, sampler]);

    const statuses: Record<string, number> = {};
    for (const sample of samples) statuses[sample.status] = (statuses[sample.status] ?? 0) + 1;
    const watchedSet = new Set(watched);
    const isHttpCall = (call: { accessKeyId: string }) =>
      call.accessKeyId === SIMULATOR_ACCESS_KEY.accessKeyId;
    const bySource: Partial<Record<AnswerSourceName, LatencySummary>> = {};
    for (const source of ['memory', 'watch', 'shared', 'cams', 'none'] as const) {
      const times = samples.filter((sample) => sample.source === source).map((sample) => sample.ms);
      if (times.length > 0) bySource[source] = summarise(times);
    }
    const describeCall = (call: (typeof loadCalls)[number]) => {
      const at = (ms: number) => `+${ms - startedAt} ms`;
      const line = `${at(call.at)} ${isHttpCall(call) ? 'http' : 'poller'} ${call.action} ${call.flowId ?? '-'} ${call.code}`;
      if (!isHttpCall(call)) return line;
      const made = samples.filter(
        (sample) => sample.flowId === call.flowId && sample.began <= call.at && call.at <= sample.ended,
      );
      const requests = made.map(
        (sample) =>
          `request ${sample.requestId} ${at(sample.began)}..${at(sample.ended)} answered from ${sample.source}`,
      );
      return `${line} (${requests.join('; ') || 'no caller request in flight for this flow'})`;
    };
    const limitControlWindows = loadCalls
      .filter((call) => call.code === 'System.LimitControl')
      .map((refused) =>
        [
          `System.LimitControl at +${refused.at - startedAt} ms; CAMS counted in the second up to it:`,
          ...loadCalls
            .filter((call) => call.at > refused.at - 1000 && call.at <= refused.at)
            .map((call) => `  ${describeCall(call)}`),
        ].join('\n'),
      );
    const stats = http.stats();
    return {
      callers: options.callers,
      durationS: round(durationS, 1),
      settings: {
        watchedFlows: watchedCount,
        watchedRead,
        unwatchedRead,
        pollQps: options.pollQps ?? 1,
        pollIntervalS: options.pollIntervalS ?? 10,
        cacheTtlS: options.cacheTtlS ?? 60,
        rampS: round(rampMs / 1000, 1),
      },
      requests: samples.length,
      statuses,
      answersAtLeast500: samples.filter((sample) => sample.status >= 500).length,
      emulatorThrottled: stats.throttled,
      instancesStarted: stats.instancesStarted,
      maxInstances,
      limitControl: limitControlWindows.length,
      limitControlWindows,
      camsCalls: loadCalls.length,
      camsCallsPerSecond: {
        mean: round(loadCalls.length / durationS),
        max: Math.max(0, ...perSecond),
      },
      pollerCamsCalls: loadCalls.filter((call) => !isHttpCall(call)).length,
      httpCamsCalls: loadCalls.filter(isHttpCall).length,
      httpCamsCallsForWatched: loadCalls.filter(
        (call) => isHttpCall(call) && watchedSet.has(call.flowId ?? ''),
      ).length,
      budgetFallbacks,
      watchedAnswersFromCams: samples.filter((sample) => sample.isWatched && sample.source === 'cams').length,
      bySource,
    };
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

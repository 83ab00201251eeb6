/**
 * Part 3: the poller against the simulator enforcing 5 calls/s, in virtual time (CAMS calls and
 * webhook deliveries take no virtual time; waits take no real time), with FC's 1-minute timer.
 */
import { randomBytes } from 'node:crypto';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../local/cams-simulator';
import { startWebhookReceiver } from '../local/webhook-receiver';
import { createCamsClient } from '../shared/cams';
import { parsePollerConfig, runPoller } from '../shared/poller';
import { createWebhookPublisher, parseWebhookEndpoints } from '../shared/webhook';
import { CountingAgent } from '../test/support/counting-agent';
import { VirtualClock } from '../test/support/virtual-clock';
import { MemoryStateStore } from './memory-store';
import { seeded } from './seeded-random';
import { round, summarise, table } from './stats';

const TICK_S = 60;
const TIMEOUT_S = 60;
/** Intervals short enough that every flow is always due: the poller spends its whole budget. */
const BENCH_INTERVALS = 'BLOCKED=0.25,THROTTLED=0.25,PUBLISHED=1,DRAFT=1,DEPRECATED=30,*=1';

export interface PollerBenchRow {
  scenario: 'uniform' | 'mixed';
  flows: number;
  pollQps: number;
  virtualSeconds: number;
  callsPerSecond: number;
  budgetUsedPct: number;
  limitControlErrors: number;
  changes: number;
  /**
   * Scripted changes that happened before their flow's first check: its baseline then reads the
   * new status and announces nothing (a poller cannot tell it changed). Not in the latencies.
   */
  changesBeforeBaseline?: number;
  p50LatencyS: number;
  p99LatencyS: number;
  idealS: number;
  hotP50LatencyS: number | null;
}

const NEXT_STATUS: Record<string, string[]> = {
  PUBLISHED: ['THROTTLED', 'DRAFT'],
  THROTTLED: ['PUBLISHED', 'BLOCKED'],
  BLOCKED: ['THROTTLED'],
  DRAFT: ['PUBLISHED'],
};

async function benchOne(
  scenario: PollerBenchRow['scenario'],
  flowCount: number,
  pollQps: number,
): Promise<PollerBenchRow> {
  const random = seeded(flowCount * 31 + pollQps);
  const camsAgent = new CountingAgent();
  const webhookAgent = new CountingAgent();
  const clock = new VirtualClock(Date.UTC(2026, 10, 25), {
    isBusy: () => camsAgent.inFlight > 0 || webhookAgent.inFlight > 0,
  });
  const startAt = clock.now();
  const sweepS = flowCount / pollQps;
  const durationS = Math.max(3 * sweepS, 1200);
  const meanChangePeriodS = 8 * sweepS;
  const flows = Array.from({ length: flowCount }, (_, index) => {
    const roll = random();
    const status =
      scenario === 'uniform' ? 'PUBLISHED' : roll < 0.1 ? 'BLOCKED' : roll < 0.2 ? 'THROTTLED' : 'PUBLISHED';
    return { flowId: String(500000000000000 + index), flowName: `bench_${index}`, status };
  });
  const simulator = await startCamsSimulator({ flows, clock, rateLimit: 5 });
  // Changes start after the first sweep (the baseline); each flow changes at random moments.
  const changes = new Map<string, Array<{ at: number; status: string }>>();
  for (const flow of flows) {
    const steps: Array<{ afterMs: number; status: string }> = [];
    let status = flow.status;
    let at = sweepS * 1000 + 1000;
    for (;;) {
      at += -Math.log(1 - random()) * meanChangePeriodS * 1000;
      if (at > durationS * 1000) break;
      const options =
        scenario === 'uniform'
          ? [status === 'PUBLISHED' ? 'DRAFT' : 'PUBLISHED']
          : (NEXT_STATUS[status] ?? ['PUBLISHED']);
      status = options[Math.floor(random() * options.length)] ?? 'PUBLISHED';
      steps.push({ afterMs: Math.round(at), status });
    }
    simulator.scriptStatus(flow.flowId, steps);
    changes.set(
      flow.flowId,
      steps.map((step) => ({ at: startAt + step.afterMs, status: step.status })),
    );
  }
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startWebhookReceiver({ secret });
  const endpoints = parseWebhookEndpoints({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret });
  const publisher = createWebhookPublisher({ dispatcher: webhookAgent });
  const cams = createCamsClient({ endpoint: simulator.endpoint, qps: pollQps, clock, dispatcher: camsAgent });
  const store = new MemoryStateStore();
  const config = parsePollerConfig({
    WATCH_FLOWS: flows.map((flow) => flow.flowId).join(','),
    POLL_QPS: String(pollQps),
    // No account budget here: the poller alone against the simulator's 5 calls/s.
    CAMS_ACCOUNT_QPS: String(Math.floor(pollQps) + 1),
    POLL_INTERVALS: BENCH_INTERVALS,
  });
  const latencies: number[] = [];
  const hotLatencies: number[] = [];
  try {
    while (clock.now() - startAt < durationS * 1000) {
      const tickAt = clock.now();
      await runPoller(
        {
          cams,
          store,
          endpoints,
          clock,
          random,
          log: () => undefined,
          deliver: async (event, endpoint, deliverOptions) => {
            const outcome = await publisher.deliver(event, endpoint, deliverOptions);
            if (outcome.kind === 'delivered' && event.data.status) {
              const scripted = (changes.get(event.data.flowId) ?? []).filter(
                (change) => change.at <= clock.now() && change.status === event.data.status,
              );
              const origin = scripted.at(-1);
              if (origin) {
                const latencyS = (clock.now() - origin.at) / 1000;
                latencies.push(latencyS);
                const previous = event.data.previousStatus ?? '';
                if (previous === 'THROTTLED' || previous === 'BLOCKED') hotLatencies.push(latencyS);
              }
            }
            return outcome;
          },
        },
        { config, credentials: SIMULATOR_CREDENTIALS, deadlineMs: tickAt + TIMEOUT_S * 1000 },
      );
      const nextTick = tickAt + TICK_S * 1000;
      if (clock.now() < nextTick) clock.advance(nextTick - clock.now());
    }
    const elapsedS = (clock.now() - startAt) / 1000;
    const accepted = simulator.calls.filter((call) => call.code !== 'System.LimitControl').length;
    const firstCheckAt = new Map<string, number>();
    for (const call of simulator.calls) {
      if (call.action !== 'GetFlow' || call.code !== 'OK' || call.flowId === undefined) continue;
      if (!firstCheckAt.has(call.flowId)) firstCheckAt.set(call.flowId, call.at);
    }
    let changesBeforeBaseline = 0;
    for (const [flowId, scripted] of changes) {
      const baselineAt = firstCheckAt.get(flowId) ?? Number.POSITIVE_INFINITY;
      changesBeforeBaseline += scripted.filter(
        (change) => change.at < Math.min(baselineAt, clock.now()),
      ).length;
    }
    const latency = summarise(latencies);
    const hot = summarise(hotLatencies);
    return {
      scenario,
      flows: flowCount,
      pollQps,
      virtualSeconds: round(elapsedS, 0),
      callsPerSecond: round(accepted / elapsedS),
      budgetUsedPct: round((accepted / elapsedS / pollQps) * 100, 1),
      limitControlErrors: simulator.calls.filter((call) => call.code === 'System.LimitControl').length,
      changes: latencies.length,
      changesBeforeBaseline,
      p50LatencyS: latency.p50Ms,
      p99LatencyS: latency.p99Ms,
      idealS: round(flowCount / pollQps / 2, 1),
      hotP50LatencyS: hotLatencies.length ? hot.p50Ms : null,
    };
  } finally {
    await receiver.close();
    await simulator.close();
    await camsAgent.close();
    await webhookAgent.close();
  }
}

export async function benchPoller(options: { quick: boolean }) {
  const sizes = options.quick ? [50, 500] : [50, 500, 5000];
  const rows: PollerBenchRow[] = [];
  for (const flows of sizes) {
    for (const pollQps of [4, 5]) rows.push(await benchOne('uniform', flows, pollQps));
    rows.push(await benchOne('mixed', flows, 4));
  }
  const targets = rows.flatMap((row) => {
    const name = `${row.scenario} ${row.flows} flows @${row.pollQps}/s`;
    const list = [
      {
        name: `${name}: budget used %`,
        figure: row.budgetUsedPct,
        target: '>= 95',
        met: row.budgetUsedPct >= 95,
      },
      {
        name: `${name}: LimitControl errors`,
        figure: row.limitControlErrors,
        target: '0',
        met: row.limitControlErrors === 0,
      },
    ];
    if (row.scenario === 'uniform') {
      const ratio = round(row.p50LatencyS / row.idealS);
      list.push({ name: `${name}: p50 latency / ideal`, figure: ratio, target: '<= 1.2', met: ratio <= 1.2 });
    }
    if (row.scenario === 'mixed' && row.hotP50LatencyS !== null) {
      const ratio = round(row.hotP50LatencyS / row.idealS);
      list.push({
        name: `${name}: THROTTLED/BLOCKED p50 / ideal`,
        figure: ratio,
        target: '< 1',
        met: ratio < 1,
      });
    }
    return list;
  });
  return {
    rows,
    targets,
    table: table(
      [
        'scenario',
        'flows',
        'POLL_QPS',
        'calls/s',
        'budget %',
        'LimitControl',
        'changes',
        'before baseline',
        'p50 s',
        'p99 s',
        'ideal s',
        'hot p50 s',
      ],
      rows.map((row) => [
        row.scenario,
        row.flows,
        row.pollQps,
        row.callsPerSecond,
        row.budgetUsedPct,
        row.limitControlErrors,
        row.changes,
        row.changesBeforeBaseline ?? '–',
        row.p50LatencyS,
        row.p99LatencyS,
        row.idealS,
        row.hotP50LatencyS ?? '-',
      ]),
    ),
  };
}

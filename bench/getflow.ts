/** Part 1: GetFlow on a warm instance — our core vs the official SDK vs a bare undici POST. */
import { performance } from 'node:perf_hooks';
import Cams, * as $Cams from '@alicloud/cams20200606';
import * as $OpenApi from '@alicloud/openapi-client';
import { Agent, request } from 'undici';
import { SIMULATOR_CREDENTIALS } from '../local/cams-simulator';
import { createCamsClient } from '../shared/cams';
import { buildRpcRequest } from '../shared/cams/rpc-request';
import { spawnSimulator } from './spawn-simulator';
import { median, round, summarise } from './stats';
import type { Target } from './target';

const FLOW = {
  flowId: '926753328126431',
  flowName: 'bench_flow',
  status: 'PUBLISHED',
  categories: ['OTHER'],
};

const ROUNDS = 7;

export interface ThroughputResult {
  readonly client: 'core' | 'sdk' | 'bare';
  readonly concurrency: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface Round {
  readonly requestsPerSecond: number;
  readonly latencies: number[];
}

/** One timed round of `requests` calls by `concurrency` workers (after a short warm-up). */
async function round_(concurrency: number, requests: number, once: () => Promise<void>): Promise<Round> {
  let next = 0;
  const worker = async (count: number, latencies: number[]) => {
    while (next < count) {
      next += 1;
      const startedAt = performance.now();
      await once();
      latencies.push(performance.now() - startedAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker(Math.min(100, requests / 5), [])));
  next = 0;
  const latencies: number[] = [];
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker(requests, latencies)));
  return { requestsPerSecond: requests / ((performance.now() - startedAt) / 1000), latencies };
}

/**
 * The clients take turns, round after round, and each figure is the median round: on a shared
 * 2-core machine load drifts within seconds, and taking turns spreads the drift over all clients.
 */
async function measure(
  clients: ReadonlyArray<readonly [ThroughputResult['client'], () => Promise<void>]>,
  concurrency: number,
  requests: number,
  rounds: number,
): Promise<ThroughputResult[]> {
  const collected = new Map(clients.map(([name]) => [name, [] as Round[]]));
  for (let index = 0; index < rounds; index += 1) {
    for (const [name, once] of clients) {
      collected.get(name)?.push(await round_(concurrency, Math.ceil(requests / rounds), once));
    }
  }
  return clients.map(([client]) => {
    const results = collected.get(client) ?? [];
    return {
      client,
      concurrency,
      requests,
      requestsPerSecond: round(median(results.map((result) => result.requestsPerSecond)), 0),
      ...summarise(results.flatMap((result) => result.latencies)),
    };
  });
}

export async function benchGetFlow(requests: number): Promise<ThroughputResult[]> {
  const simulator = await spawnSimulator([FLOW], 'off');
  const credentials = SIMULATOR_CREDENTIALS;
  const endpoint = new URL(simulator.endpoint);
  try {
    const core = createCamsClient({ endpoint: simulator.endpoint, qps: 1_000_000 });
    const sdk = new Cams(
      new $OpenApi.Config({
        accessKeyId: credentials.accessKeyId,
        accessKeySecret: credentials.accessKeySecret,
        securityToken: credentials.securityToken ?? '',
        endpoint: endpoint.host,
        protocol: 'http',
      }),
    );
    const bareAgent = new Agent({ keepAliveTimeout: 30_000 });
    // The floor: the same bytes over the same transport, signed ahead of time (the simulator
    // still checks signatures and nonces), no validation. Signing happens outside the timing.
    const presigned = Array.from({ length: 2 * (requests + ROUNDS * 100) }, (_, index) =>
      buildRpcRequest({
        endpoint,
        action: 'GetFlow',
        fields: [['FlowId', FLOW.flowId]],
        credentials,
        nowMs: Date.now(),
        nonce: `bare-${index}`,
      }),
    );
    let used = 0;
    const clients = [
      [
        'core',
        async () => {
          await core.getFlow({ flowId: FLOW.flowId }, { credentials });
        },
      ],
      [
        'sdk',
        async () => {
          await sdk.getFlow(new $Cams.GetFlowRequest({ flowId: FLOW.flowId }));
        },
      ],
      [
        'bare',
        async () => {
          const built = presigned[used++];
          if (!built) throw new Error('ran out of presigned requests');
          const response = await request(built.url, {
            method: 'POST',
            headers: built.headers,
            body: built.body,
            dispatcher: bareAgent,
          });
          const text = await response.body.text();
          if (response.statusCode !== 200) throw new Error(`bare request failed: ${text}`);
        },
      ],
    ] as const;
    const results: ThroughputResult[] = [];
    for (const concurrency of [1, 16])
      results.push(...(await measure(clients, concurrency, requests, ROUNDS)));
    // Every client above throws on an answer other than OK, so a finished run had no failures.
    await bareAgent.close();
    return results;
  } finally {
    await simulator.stop();
  }
}

/** Our per-call overhead against a bare undici POST of the same bytes, per concurrency. */
export function getflowTargets(rows: readonly ThroughputResult[]): Target[] {
  return [1, 16].map((concurrency) => {
    const rps = (client: string) =>
      rows.find((row) => row.client === client && row.concurrency === concurrency)?.requestsPerSecond ??
      Number.NaN;
    const floorRatio = round(rps('bare') / rps('core'));
    return {
      name: `bare/core req/s at c=${concurrency}`,
      figure: floorRatio,
      target: '<= 1.3',
      met: floorRatio <= 1.3,
    };
  });
}

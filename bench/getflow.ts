/** Part 1: GetFlow on a warm instance — our core vs the official SDK vs a bare undici POST. */
import { performance } from 'node:perf_hooks';
import Cams, * as $Cams from '@alicloud/cams20200606';
import * as $OpenApi from '@alicloud/openapi-client';
import { Agent, request } from 'undici';
import { SIMULATOR_CREDENTIALS } from '../local/cams-simulator';
import { createCamsClient } from '../shared/cams';
import { buildRpcRequest } from '../shared/cams/rpc-request';
import { spawnSimulator } from './spawn-simulator';
import { round, summarise } from './stats';

const FLOW = {
  flowId: '926753328126431',
  flowName: 'bench_flow',
  status: 'PUBLISHED',
  categories: ['OTHER'],
};

export interface ThroughputResult {
  readonly client: 'core' | 'sdk' | 'bare';
  readonly concurrency: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function measure(
  client: ThroughputResult['client'],
  concurrency: number,
  requests: number,
  once: (index: number) => Promise<void>,
): Promise<ThroughputResult> {
  const warmup = Math.min(200, requests / 5);
  let next = 0;
  const worker = async (count: number, latencies: number[]) => {
    while (next < count) {
      const index = next;
      next += 1;
      const startedAt = performance.now();
      await once(index);
      latencies.push(performance.now() - startedAt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker(warmup, [])));
  next = 0;
  const latencies: number[] = [];
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => worker(requests, latencies)));
  const elapsedS = (performance.now() - startedAt) / 1000;
  return {
    client,
    concurrency,
    requests,
    requestsPerSecond: round(requests / elapsedS, 0),
    ...summarise(latencies),
  };
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
    const results: ThroughputResult[] = [];
    for (const concurrency of [1, 16]) {
      results.push(
        await measure('core', concurrency, requests, async () => {
          await core.getFlow({ flowId: FLOW.flowId }, { credentials });
        }),
      );
      results.push(
        await measure('sdk', concurrency, requests, async () => {
          await sdk.getFlow(new $Cams.GetFlowRequest({ flowId: FLOW.flowId }));
        }),
      );
      // The floor: the same bytes over the same transport, signed ahead of time (the simulator
      // still checks signatures and nonces), no validation. Signing happens outside the timing.
      let nonce = 0;
      const total = requests + Math.min(200, requests / 5);
      const presigned = Array.from({ length: total }, () =>
        buildRpcRequest({
          endpoint,
          action: 'GetFlow',
          fields: [['FlowId', FLOW.flowId]],
          credentials,
          nowMs: Date.now(),
          nonce: `bare-${concurrency}-${nonce++}`,
        }),
      );
      let used = 0;
      results.push(
        await measure('bare', concurrency, requests, async () => {
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
        }),
      );
    }
    // Every client above throws on an answer other than OK, so a finished run had no failures.
    await bareAgent.close();
    return results;
  } finally {
    await simulator.stop();
  }
}

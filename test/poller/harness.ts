import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CamsSimulator,
  SIMULATOR_CREDENTIALS,
  type SimFlow,
  startCamsSimulator,
} from '../../local/cams-simulator';
import { startTablestoreServer } from '../../local/tablestore-server';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { createCamsClient } from '../../shared/cams';
import { type LogEntry, parsePollerConfig, type RunSummary, runPoller } from '../../shared/poller';
import { createStateStore, type StateStore } from '../../shared/state';
import { createWebhookPublisher, parseWebhookEndpoints } from '../../shared/webhook';
import { CountingAgent } from '../support/counting-agent';
import { VirtualClock } from '../support/virtual-clock';

export interface PollerWorld {
  readonly clock: VirtualClock;
  readonly simulator: CamsSimulator;
  readonly receiver: WebhookReceiver;
  readonly store: StateStore;
  readonly logs: LogEntry[];
  /** Every webhook attempt the poller made, by event id, whatever its outcome. */
  readonly attempted: string[];
  run(options?: { timeoutS?: number; store?: StateStore }): Promise<RunSummary>;
  /** Events the receiver acknowledged (2xx), in arrival order, parsed. */
  delivered(): Array<{ id: string; type: string; data: Record<string, string> }>;
  close(): Promise<void>;
}

/**
 * The poller against the real simulator, file store and verifying webhook receiver, in virtual
 * time: CAMS calls and answered webhooks take no virtual time, rate-limit waits take no real
 * time, and a webhook the receiver holds unanswered lets virtual time run, so the publisher's
 * timeout (15 s on the same clock) ends it as it would in production.
 */
export async function startPollerWorld(options: {
  flows: SimFlow[];
  pollQps?: number;
  rateLimit?: number | false;
  intervals?: string;
  watch?: string;
  custSpaces?: string;
  discoveryIntervalS?: number;
  webhookMaxAgeHours?: number;
  /** The state store; a fresh `file:` directory when absent. */
  openStore?: () => Promise<StateStore>;
}): Promise<PollerWorld> {
  const agent = new CountingAgent();
  const webhookAgent = new CountingAgent();
  let receiver: WebhookReceiver | undefined;
  const clock = new VirtualClock(Date.now(), {
    isBusy: () => agent.inFlight > 0 || webhookAgent.inFlight > (receiver?.hanging ?? 0),
  });
  const simulator = await startCamsSimulator({
    flows: options.flows,
    clock,
    rateLimit: options.rateLimit ?? 5,
  });
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const acknowledged: string[] = [];
  receiver = await startWebhookReceiver({ secret });
  const store = await (options.openStore?.() ??
    createStateStore(`file:${mkdtempSync(join(tmpdir(), 'cfw-poller-'))}`));
  const endpoints = parseWebhookEndpoints({ WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret });
  // Stamped on real time (the receiver checks webhook-timestamp against its own clock, ±5 min),
  // timed out on virtual time.
  const publisher = createWebhookPublisher({
    clock: { now: () => Date.now(), sleep: (ms, signal) => clock.sleep(ms, signal) },
    dispatcher: webhookAgent,
  });
  const pollQps = options.pollQps ?? 4;
  const cams = createCamsClient({
    endpoint: simulator.endpoint,
    qps: pollQps,
    clock,
    dispatcher: agent,
    random: () => 0.5,
  });
  const config = parsePollerConfig({
    WATCH_FLOWS:
      options.watch ??
      options.flows
        .map((flow) => (flow.custSpaceId ? `${flow.custSpaceId}:${flow.flowId}` : flow.flowId))
        .join(','),
    WATCH_CUST_SPACES: options.custSpaces,
    DISCOVERY_INTERVAL_SECONDS: String(options.discoveryIntervalS ?? 0),
    POLL_QPS: String(pollQps),
    // No account budget here: the poller alone against the simulator's 5 calls/s.
    CAMS_ACCOUNT_QPS: String(Math.floor(pollQps) + 1),
    POLL_INTERVALS: options.intervals ?? '*=60,DEPRECATED=60,THROTTLED=60,BLOCKED=60',
    WEBHOOK_MAX_AGE_HOURS: options.webhookMaxAgeHours?.toString(),
  });
  const logs: LogEntry[] = [];
  const attempted: string[] = [];
  const started = receiver;
  return {
    clock,
    simulator,
    receiver: started,
    store,
    logs,
    attempted,
    run: ({ timeoutS = 60, store: runStore = store } = {}) =>
      runPoller(
        {
          cams,
          store: runStore,
          endpoints,
          clock,
          random: () => 0.5,
          log: (entry) => logs.push(entry),
          deliver: async (event, endpoint, deliverOptions) => {
            attempted.push(event.id);
            const outcome = await publisher.deliver(event, endpoint, deliverOptions);
            if (outcome.kind === 'delivered') acknowledged.push(event.id);
            return outcome;
          },
        },
        { config, credentials: SIMULATOR_CREDENTIALS, deadlineMs: clock.now() + timeoutS * 1000 },
      ),
    delivered: () =>
      acknowledged.map((id) => {
        const delivery = started.received.find((entry) => entry.id === id && entry.verified);
        if (!delivery) throw new Error(`delivery ${id} not verified by the receiver`);
        return { id, ...(JSON.parse(delivery.body) as { type: string; data: Record<string, string> }) };
      }),
    close: async () => {
      await started.close();
      await simulator.close();
      await agent.close();
      await webhookAgent.close();
    },
  };
}

/** The Tablestore stand-in, and a function opening another client (another FC instance) on its table. */
export async function startTablestoreStores(instance: string) {
  const server = await startTablestoreServer({ instance, credentials: [SIMULATOR_CREDENTIALS] });
  const open = () =>
    createStateStore(`tablestore://${instance}/flow_state`, {
      credentials: SIMULATOR_CREDENTIALS,
      env: { TABLESTORE_ENDPOINT: server.endpoint },
    });
  return { server, open };
}

/** `store` with its writes going through `put`: an instance about to die, a store failing on cue. */
export function storeWithPut(store: StateStore, put: StateStore['put']): StateStore {
  return {
    get: (key) => store.get(key),
    list: (prefix) => store.list(prefix),
    delete: (key, version) => store.delete(key, version),
    increment: (key, by) => store.increment(key, by),
    counters: (start, end) => store.counters(start, end),
    close: async () => {},
    put,
  };
}

/** `count` PUBLISHED flows of one cust space, ids counting up from `firstId`. */
/** `count` flows with consecutive ids from `firstId`, named flow_<n>, all in `status`. */
export function numberedFlows(count: number, firstId: number, status = 'PUBLISHED'): SimFlow[] {
  return Array.from({ length: count }, (_, index) => ({
    flowId: String(firstId + index),
    flowName: `flow_${index}`,
    status,
  }));
}

export function flowsInSpace(custSpaceId: string, count: number, firstId: number): SimFlow[] {
  return Array.from({ length: count }, (_, index) => ({
    flowId: String(firstId + index),
    flowName: `${custSpaceId}_${index}`,
    status: 'PUBLISHED',
    custSpaceId,
  }));
}

/** The ListFlow calls the simulator has answered so far. */
export function listFlowCalls(world: PollerWorld): number {
  return world.simulator.calls.filter((call) => call.action === 'ListFlow').length;
}

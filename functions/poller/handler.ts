import middy from '@middy/core';
import { AccountBudget } from '../../shared/budget';
import { type CamsClient, createCamsClient, parseCamsEndpoint, resolveCredentials } from '../../shared/cams';
import { type Clock, systemClock } from '../../shared/clock';
import { ConfigError } from '../../shared/config-error';
import { invocationTimeoutS } from '../../shared/invocation-timeout';
import {
  type LogEntry,
  type PollerConfig,
  parsePollerConfig,
  type RunSummary,
  runPoller,
} from '../../shared/poller';
import { createStateStore } from '../../shared/state';
import { createWebhookPublisher, parseWebhookEndpoints, type WebhookEndpoint } from '../../shared/webhook';
import { type DryRunReport, dryRun, isDryRunRequest } from './dry-run';
import { parseTimerEvent } from './timer-event';

/** s.yaml's timeout, for a context that carries none (or no positive number). */
const DEFAULT_TIMEOUT_S = 60;

export interface FcTimerContext {
  readonly requestId?: string;
  readonly credentials?: unknown;
  readonly function?: { readonly timeout?: number };
}

export interface PollerHandlerDependencies {
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly log?: (line: string) => void;
  /** The package version, for the cold-start log line and dry-run reports. */
  readonly version?: string;
}

export type PollerResult = RunSummary | DryRunReport | { error: { code: string; message: string } };

interface Setup {
  readonly config: PollerConfig;
  readonly endpoints: readonly WebhookEndpoint[];
  readonly cams: CamsClient;
  readonly publisher: ReturnType<typeof createWebhookPublisher>;
  readonly budget: AccountBudget;
}

/**
 * The timer-triggered poller. Configuration, the CAMS client (pool + limiter) and the webhook
 * publisher are built once per cold start; credentials are read from every invocation.
 * It never throws: FC would retry a failed timer invocation, and the next tick redoes the work.
 */
export function createPollerHandler(dependencies: PollerHandlerDependencies = {}) {
  const env = dependencies.env ?? process.env;
  const clock = dependencies.clock ?? systemClock;
  const write = dependencies.log ?? ((line: string) => console.log(line));
  const log = (entry: LogEntry) => write(JSON.stringify(entry));
  const version = dependencies.version ?? 'dev';
  let setup: Setup | undefined;
  let hasLoggedColdStart = false;

  function setUp(): Setup {
    if (setup) return setup;
    const config = parsePollerConfig(env);
    const cams = createCamsClient({ endpoint: parseCamsEndpoint(env), qps: config.pollQps, clock });
    const budget = new AccountBudget({
      accountQps: config.accountQps,
      scope: 'poll',
      pollQps: config.pollQps,
      // reservedConcurrency 1: one poller instance at a time.
      instances: 1,
      clock,
      random: dependencies.random,
      log,
    });
    setup = {
      budget,
      config,
      endpoints: parseWebhookEndpoints(env),
      cams,
      publisher: createWebhookPublisher({ clock }),
    };
    if (setup.endpoints.length === 0) {
      log({ level: 'warn', msg: 'WEBHOOK_URL is empty: status changes are logged but delivered nowhere' });
    }
    if (config.watchFlows.length === 0 && config.watchCustSpaces.length === 0) {
      log({ level: 'warn', msg: 'WATCH_FLOWS and WATCH_CUST_SPACES are empty: nothing to watch' });
    }
    return setup;
  }

  const base = async (event: unknown, context: FcTimerContext): Promise<PollerResult> => {
    const startedAt = clock.now();
    if (!hasLoggedColdStart) {
      hasLoggedColdStart = true;
      // FC does not document the built-in nodejs20 runtime's patch release: the log tells.
      log({ level: 'info', msg: 'cold start', version, node: process.version });
    }
    const timer = parseTimerEvent(event);
    if (isDryRunRequest(timer.payload, event)) {
      const timeoutS = invocationTimeoutS(context, DEFAULT_TIMEOUT_S);
      const report = await dryRun({
        setUp,
        contextCredentials: context?.credentials,
        env,
        clock,
        deadlineMs: startedAt + timeoutS * 1000,
        version,
      });
      log({
        level: report.ok ? 'info' : 'error',
        msg: 'poller dry run',
        requestId: context?.requestId ?? null,
        ...report,
      });
      return report;
    }
    if (timer.problem) log({ level: 'warn', msg: `timer event ignored: ${timer.problem}; running anyway` });
    try {
      const { config, endpoints, cams, publisher, budget } = setUp();
      const credentials = resolveCredentials(context?.credentials, env);
      const store = await createStateStore(config.stateUrl, { credentials, env, clock });
      const timeoutS = invocationTimeoutS(context, DEFAULT_TIMEOUT_S);
      const deadlineMs = startedAt + timeoutS * 1000;
      try {
        const summary = await runPoller(
          {
            cams,
            store,
            endpoints,
            clock,
            random: dependencies.random,
            log,
            budget: budget.bind(store),
            // The run aborts a webhook still in flight at its save margin; the event stays owed.
            deliver: (flowEvent, endpoint, options) => publisher.deliver(flowEvent, endpoint, options),
          },
          { config, credentials, deadlineMs },
        );
        log({ level: 'info', msg: 'poller run', requestId: context?.requestId ?? null, ...summary });
        return summary;
      } finally {
        // FC freezes the instance once the run returns: counts still in flight land first, bounded,
        // and never past the invocation's timeout (FC would end it and retry the timer event).
        await budget.settled({ notAfter: deadlineMs - 500 });
        await store.close();
      }
    } catch (error) {
      const code =
        typeof (error as { code?: unknown })?.code === 'string'
          ? (error as { code: string }).code
          : 'InternalError';
      const message = error instanceof Error ? error.message : String(error);
      // Not cached: every run re-reads the configuration and says again which variable to fix.
      const isConfigError = error instanceof ConfigError;
      log({
        level: 'error',
        msg: isConfigError ? 'poller configuration error' : 'poller run failed',
        requestId: context?.requestId ?? null,
        code,
        ...(isConfigError ? { variable: error.variable } : {}),
        error: message,
      });
      return { error: { code, message } };
    }
  };

  const chain = middy({ timeoutEarlyInMillis: 0 }) as unknown as {
    handler(
      fn: (event: unknown, context: FcTimerContext) => Promise<PollerResult>,
    ): (event: unknown, context: FcTimerContext) => Promise<PollerResult>;
  };
  return chain.handler(base);
}

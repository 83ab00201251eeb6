import { parse } from 'yaml';

/** Seconds, as s.yaml gives them: how long FC may hold each function's slots. */
export interface DeployTiming {
  readonly httpTimeoutSeconds: number;
  readonly pollerTimeoutSeconds: number;
  /** Seconds between two ticks of the poller's timer trigger. */
  readonly timerPeriodSeconds: number;
}

/** s.yaml does not hold what the smoke check needs to know how long to wait: fix s.yaml. */
export class DeployTimingError extends Error {
  readonly code = 'DeployTimingUnreadable';
  readonly retryable = false;
}

/**
 * FC fires a timer at most once a minute (fc-runtime.md). A cron expression's period is taken as
 * that minute: the smoke check waits a period plus a timeout, and a longer period only leaves a
 * longer free gap between runs, so the shortest possible one is enough.
 */
const SHORTEST_TIMER_PERIOD_SECONDS = 60;

interface ResourceShape {
  props?: {
    timeout?: unknown;
    triggers?: Array<{ triggerType?: unknown; triggerConfig?: { cronExpression?: unknown } }>;
  };
}

function timeoutOf(resources: Record<string, ResourceShape | undefined>, name: string): number {
  const timeout = resources[name]?.props?.timeout;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0) {
    throw new DeployTimingError(
      `s.yaml: resources.${name}.props.timeout must be a whole number of seconds written in the file, found ${JSON.stringify(timeout)}`,
    );
  }
  return timeout;
}

/** `@every 1h30m` → 5400; a six-field cron expression → the shortest period FC allows. */
export function timerPeriodSeconds(cronExpression: string): number {
  const every = /^@every ((\d+)h)?((\d+)m)?$/.exec(cronExpression.trim());
  if (!every) return SHORTEST_TIMER_PERIOD_SECONDS;
  const seconds = (Number(every[2] ?? 0) * 60 + Number(every[4] ?? 0)) * 60;
  return Math.max(seconds, SHORTEST_TIMER_PERIOD_SECONDS);
}

/** Reads the timeouts and the poller's timer period from s.yaml's text, as written (not rendered). */
export function deployTimingOf(sYamlText: string): DeployTiming {
  let document: { resources?: Record<string, ResourceShape | undefined> } | undefined;
  try {
    document = parse(sYamlText) as typeof document;
  } catch (error) {
    throw new DeployTimingError(`s.yaml is not valid YAML: ${(error as Error).message}`);
  }
  const resources = document?.resources ?? {};
  const timer = (resources.poller?.props?.triggers ?? []).find((trigger) => trigger.triggerType === 'timer');
  const cronExpression = timer?.triggerConfig?.cronExpression;
  if (typeof cronExpression !== 'string') {
    throw new DeployTimingError('s.yaml: the poller has no timer trigger with a cronExpression');
  }
  return {
    httpTimeoutSeconds: timeoutOf(resources, 'http'),
    pollerTimeoutSeconds: timeoutOf(resources, 'poller'),
    timerPeriodSeconds: timerPeriodSeconds(cronExpression),
  };
}

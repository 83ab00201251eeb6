import * as z from 'zod/mini';
import '../zod-english';
import { parseAccountShares } from '../budget/config';
import { ConfigError } from '../config-error';
import { splitList } from '../list-variable';
import { DEFAULT_STATE_URL } from '../state';
import { checkStateUrl } from '../state/location';
import { parseWatchCustSpaces, parseWatchFlows, type WatchedFlow } from './watch-list';

export interface PollerConfig {
  readonly watchFlows: readonly WatchedFlow[];
  readonly watchCustSpaces: readonly string[];
  /** CAMS_ACCOUNT_QPS: the account's Flow calls per rolling second, the HTTP function's too. */
  readonly accountQps: number;
  /** GetFlow/ListFlow calls per rolling second for the poller; below accountQps. */
  readonly pollQps: number;
  /** Seconds between checks by last known status; `*` for any other status. */
  readonly intervalsS: Readonly<Record<string, number>>;
  readonly discoveryIntervalS: number;
  readonly webhookMaxAgeMs: number;
  readonly stateUrl: string;
}

/**
 * THROTTLED and BLOCKED are the statuses a team must hear about leaving or entering fastest;
 * DEPRECATED is terminal, so it is barely polled. Unknown statuses are polled like `*`.
 */
export const DEFAULT_INTERVALS_S: Readonly<Record<string, number>> = {
  BLOCKED: 30,
  THROTTLED: 30,
  PUBLISHED: 60,
  DRAFT: 120,
  DEPRECATED: 3600,
  '*': 60,
};

function fail(variable: string, problem: string): never {
  throw new ConfigError(variable, problem);
}

export function parseIntervals(value: string | undefined): Record<string, number> {
  const intervals: Record<string, number> = { ...DEFAULT_INTERVALS_S };
  for (const [index, entry] of splitList(value).entries()) {
    const match = /^([A-Z_*]+)=(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match?.[1] || !match[2]) {
      fail('POLL_INTERVALS', `entry ${index + 1} must look like THROTTLED=30 (status=seconds, or *=seconds)`);
    }
    intervals[match[1]] = Number(match[2]);
  }
  return intervals;
}

const numbers = z.object({
  DISCOVERY_INTERVAL_SECONDS: z._default(z.coerce.number().check(z.gte(0)), 600),
  WEBHOOK_MAX_AGE_HOURS: z._default(z.coerce.number().check(z.positive()), 72),
});

/** Read once per cold start; a typo fails there, naming the variable. */
export function parsePollerConfig(env: NodeJS.ProcessEnv): PollerConfig {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = numbers.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(String(issue?.path[0] ?? 'configuration'), `is invalid: ${issue?.message ?? 'bad value'}`);
  }
  const { accountQps, pollQps } = parseAccountShares(env);
  const watchFlows = parseWatchFlows(env.WATCH_FLOWS);
  const watchCustSpaces = parseWatchCustSpaces(env.WATCH_CUST_SPACES);
  const stateUrl = env.STATE_URL?.trim() || DEFAULT_STATE_URL;
  checkStateUrl(stateUrl, env);
  return {
    watchFlows,
    watchCustSpaces,
    accountQps,
    pollQps,
    intervalsS: parseIntervals(env.POLL_INTERVALS),
    discoveryIntervalS: parsed.data.DISCOVERY_INTERVAL_SECONDS,
    webhookMaxAgeMs: parsed.data.WEBHOOK_MAX_AGE_HOURS * 3600 * 1000,
    stateUrl,
  };
}

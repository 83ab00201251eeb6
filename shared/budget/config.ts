import { ConfigError } from '../config-error';

/** CAMS documents 5 Flow calls per second per account, every caller together. */
export const DEFAULT_ACCOUNT_QPS = 5;

/** The poller's default share of the account (POLL_QPS): the HTTP function keeps the other 1. */
export const DEFAULT_POLL_QPS = 4;

/** Variables as a function, or the deploy check before `s deploy`, is given them. */
type Variables = Readonly<Record<string, string | undefined>>;

/** The account's Flow calls per second and the poller's share of them, as both functions read them. */
export interface AccountShares {
  /** CAMS_ACCOUNT_QPS: the account's Flow calls per rolling second, shared by both functions. */
  readonly accountQps: number;
  /** POLL_QPS: the poller's most calls per rolling second; the HTTP function gets the rest. */
  readonly pollQps: number;
}

function parseAccountQps(env: Variables): number {
  const raw = env.CAMS_ACCOUNT_QPS?.trim() || String(DEFAULT_ACCOUNT_QPS);
  const qps = Number(raw);
  if (!Number.isInteger(qps) || qps < 1 || qps > 1000) {
    throw new ConfigError(
      'CAMS_ACCOUNT_QPS',
      `must be a whole number of calls per second for the whole account (CAMS allows ${DEFAULT_ACCOUNT_QPS})`,
    );
  }
  return qps;
}

function parsePollQps(env: Variables): number {
  const raw = env.POLL_QPS?.trim() || String(DEFAULT_POLL_QPS);
  const qps = Number(raw);
  if (!Number.isFinite(qps) || qps <= 0 || qps > 100) {
    throw new ConfigError('POLL_QPS', 'must be a positive number of calls per second, at most 100');
  }
  return qps;
}

/**
 * CAMS_ACCOUNT_QPS and POLL_QPS, read the same way by the HTTP function, the poller and the
 * deploy check, so none of them runs on a pair another refuses. POLL_QPS must stay below
 * CAMS_ACCOUNT_QPS: the HTTP function's share is the difference, and with none left its
 * store-less fallback would allow it no calls at all.
 */
export function parseAccountShares(env: Variables): AccountShares {
  const accountQps = parseAccountQps(env);
  const pollQps = parsePollQps(env);
  if (pollQps >= accountQps) {
    // Whole calls while there are two or more; CAMS_ACCOUNT_QPS=1 leaves only a fraction.
    const fitting = accountQps > 1 ? accountQps - 1 : accountQps / 2;
    throw new ConfigError(
      'POLL_QPS',
      `(${pollQps}) must be below CAMS_ACCOUNT_QPS (${accountQps}), the account's calls per second that both functions share, so the HTTP function keeps some: set POLL_QPS=${fitting} (or lower) with CAMS_ACCOUNT_QPS=${accountQps}`,
    );
  }
  return { accountQps, pollQps };
}

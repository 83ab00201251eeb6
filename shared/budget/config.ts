import { ConfigError } from '../config-error';

/** CAMS documents 5 Flow calls per second per account, every caller together. */
export const DEFAULT_ACCOUNT_QPS = 5;

/** CAMS_ACCOUNT_QPS: the account's Flow calls per rolling second, shared by both functions. */
export function parseAccountQps(env: NodeJS.ProcessEnv): number {
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

/** The poller's default share of the account (POLL_QPS), as the poller's configuration has it. */
export const DEFAULT_POLL_QPS = 4;

/**
 * POLL_QPS as the HTTP function reads it: the poller's share, which the HTTP function leaves it
 * while the poller is busy and subtracts from the account for its own store-less fallback. The
 * same rules as the poller's own configuration (positive, at most 100, default 4), and below
 * CAMS_ACCOUNT_QPS so the HTTP function keeps a share.
 */
export function parsePollShare(env: NodeJS.ProcessEnv, accountQps: number): number {
  const raw = env.POLL_QPS?.trim() || String(DEFAULT_POLL_QPS);
  const qps = Number(raw);
  if (!Number.isFinite(qps) || qps <= 0 || qps > 100) {
    throw new ConfigError('POLL_QPS', 'must be a positive number of calls per second, at most 100');
  }
  if (qps >= accountQps) {
    throw new ConfigError(
      'POLL_QPS',
      `must be below CAMS_ACCOUNT_QPS (${accountQps}) so the HTTP function keeps a share of the account's calls`,
    );
  }
  return qps;
}

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

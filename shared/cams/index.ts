import { ConfigError } from '../config-error';
import { type CamsClientOptions, createCamsClient, DEFAULT_CAMS_ENDPOINT } from './cams-client';
import type { CamsClient } from './types';

export {
  CAMS_API_VERSION,
  type CamsClientOptions,
  type CamsTimeouts,
  createCamsClient,
  DEFAULT_CAMS_ENDPOINT,
} from './cams-client';
export { resolveCredentials } from './credentials';
export {
  adviceFor,
  CAMS_THROTTLING_CODES,
  type CamsAction,
  CamsError,
  InvalidInputError,
  isThrottlingCode,
  type LocalCamsCode,
  MissingCredentialsError,
} from './errors';
export { type LimiterSlot, RateLimiter, RateLimitWaitTooLongError } from './rate-limiter';
export { formatAcsDate, signRequest } from './signer';
export type * from './types';
export { validateCustSpaceId, validateFlowId } from './validate';

export interface CamsEnvConfig {
  readonly endpoint: string;
  readonly qps: number;
}

/** CAMS_ENDPOINT alone: the poller sets its own rate (POLL_QPS), so it must not read CAMS_QPS. */
export function parseCamsEndpoint(env: NodeJS.ProcessEnv): string {
  const endpoint = env.CAMS_ENDPOINT?.trim() || DEFAULT_CAMS_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError('CAMS_ENDPOINT', `must be an http(s) URL such as ${DEFAULT_CAMS_ENDPOINT}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('CAMS_ENDPOINT', `must be an http(s) URL such as ${DEFAULT_CAMS_ENDPOINT}`);
  }
  return url.origin;
}

export function parseCamsEnv(env: NodeJS.ProcessEnv): CamsEnvConfig {
  const endpoint = parseCamsEndpoint(env);
  const rawQps = env.CAMS_QPS?.trim() || '5';
  const qps = Number(rawQps);
  if (!Number.isFinite(qps) || qps <= 0 || qps > 1000) {
    throw new ConfigError(
      'CAMS_QPS',
      'must be a positive number of GetFlow calls per second (CAMS allows 5 per account)',
    );
  }
  return { endpoint, qps };
}

const clients = new Map<string, CamsClient>();

/**
 * One client (one keep-alive pool, one limiter) per warm instance: FC keeps module state
 * between invocations, so connections and the rate budget carry over.
 */
export function camsClientFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  overrides: CamsClientOptions = {},
): CamsClient {
  const config = parseCamsEnv(env);
  const key = `${config.endpoint}|${config.qps}`;
  let client = clients.get(key);
  if (!client) {
    client = createCamsClient({ ...overrides, endpoint: config.endpoint, qps: config.qps });
    clients.set(key, client);
  }
  return client;
}

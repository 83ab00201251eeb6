import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import '../../shared/zod-english';
import { parseAccountShares } from '../../shared/budget';
import { validateCustSpaceId } from '../../shared/cams';
import { ConfigError } from '../../shared/config-error';
import { splitList } from '../../shared/list-variable';
import { DEFAULT_STATE_URL } from '../../shared/state';
import { checkStateUrl } from '../../shared/state/location';

export interface HttpConfig {
  /** sha256 digests of the accepted bearer tokens. */
  readonly tokenDigests: readonly Buffer[];
  /** sha256 digests of the tokens that may also write (redelivery); they read too. */
  readonly adminTokenDigests: readonly Buffer[];
  /** `none`: the trigger authenticates (authType function), so this function does not. */
  readonly authMode: 'token' | 'none';
  /** Per-instance memory and shared store cache lifetime of answers read from CAMS here. */
  readonly cacheTtlMs: number;
  /** How old the poller's answer for a watched flow may be and still be served. */
  readonly maxAgeMs: number;
  readonly defaultCustSpaceId: string | undefined;
  /** The store shared with the poller: watched flows' answers, the shared cache, the CAMS budget. */
  readonly stateUrl: string;
  readonly accountQps: number;
  /** The poller's share of the account (POLL_QPS, as the poller is given it). */
  readonly pollQps: number;
  /**
   * This function's instance cap (HTTP_MAX_INSTANCES, s.yaml's reservedConcurrency): while the
   * store cannot be reached, each instance takes (CAMS_ACCOUNT_QPS − POLL_QPS) / this.
   */
  readonly maxInstances: number;
}

const envSchema = z.object({
  HTTP_API_TOKENS: z._default(z.string(), ''),
  HTTP_ADMIN_TOKENS: z._default(z.string(), ''),
  HTTP_AUTH: z._default(z.enum(['token', 'none'], { error: 'must be "token" (default) or "none"' }), 'token'),
  HTTP_CACHE_TTL_SECONDS: z._default(
    z.coerce
      .number({ error: 'must be a number of seconds' })
      .check(z.gte(0, 'must be 0 or more seconds'), z.lte(3600, 'must be at most 3600 seconds')),
    5,
  ),
  HTTP_MAX_AGE_SECONDS: z._default(
    z.coerce
      .number({ error: 'must be a number of seconds' })
      .check(z.gte(0, 'must be 0 or more seconds'), z.lte(86_400, 'must be at most 86400 seconds')),
    60,
  ),
  HTTP_MAX_INSTANCES: z._default(
    z.coerce
      .number({ error: 'must be a whole number of instances' })
      .check(
        z.refine(Number.isInteger, 'must be a whole number of instances'),
        z.gte(1, 'must be at least 1'),
        z.lte(10_000, 'must be at most 10000'),
      ),
    10,
  ),
  STATE_URL: z._default(z.string(), DEFAULT_STATE_URL),
  CAMS_CUST_SPACE_ID: z._default(z.string(), ''),
});

function tokenDigest(variable: string, entry: string, index: number): Buffer {
  if (entry.startsWith('sha256:')) {
    const hex = entry.slice('sha256:'.length);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new ConfigError(variable, `entry ${index + 1} starts with sha256: but is not 64 hex digits`);
    }
    return Buffer.from(hex, 'hex');
  }
  return createHash('sha256').update(entry, 'utf8').digest();
}

/** Read once per cold start. Throws ConfigError naming the variable; never echoes a token. */
export function parseHttpConfig(env: NodeJS.ProcessEnv): HttpConfig {
  const parsed = envSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? 'configuration'), issue?.message ?? 'is invalid');
  }
  const config = parsed.data;
  const entries = splitList(config.HTTP_API_TOKENS);
  let defaultCustSpaceId: string | undefined;
  if (config.CAMS_CUST_SPACE_ID) {
    try {
      defaultCustSpaceId = validateCustSpaceId(config.CAMS_CUST_SPACE_ID);
    } catch (error) {
      throw new ConfigError('CAMS_CUST_SPACE_ID', (error as Error).message.replace(/^custSpaceId /, ''));
    }
  }
  const { accountQps, pollQps } = parseAccountShares(env);
  const stateUrl = config.STATE_URL.trim() || DEFAULT_STATE_URL;
  checkStateUrl(stateUrl, env);
  return {
    tokenDigests: entries.map((entry, index) => tokenDigest('HTTP_API_TOKENS', entry, index)),
    adminTokenDigests: splitList(config.HTTP_ADMIN_TOKENS).map((entry, index) =>
      tokenDigest('HTTP_ADMIN_TOKENS', entry, index),
    ),
    authMode: config.HTTP_AUTH,
    cacheTtlMs: config.HTTP_CACHE_TTL_SECONDS * 1000,
    maxAgeMs: config.HTTP_MAX_AGE_SECONDS * 1000,
    defaultCustSpaceId,
    stateUrl,
    accountQps,
    pollQps,
    maxInstances: config.HTTP_MAX_INSTANCES,
  };
}

/** The request's `custSpaceId` query value, validated, else the configured default space. */
export function requestedCustSpaceId(
  query: Readonly<Record<string, string | undefined>>,
  config: HttpConfig,
): string | undefined {
  const requested = query.custSpaceId;
  return requested !== undefined ? validateCustSpaceId(requested) : config.defaultCustSpaceId;
}

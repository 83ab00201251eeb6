import { createHash } from 'node:crypto';
import { ConfigError } from '../config-error';
import { WEBHOOK_FORMATS, type WebhookEndpoint, type WebhookFormat } from './types';

export { ConfigError };

const FORMATS_NEEDING_SECRET: readonly WebhookFormat[] = ['standard', 'meta', 'dingtalk', 'feishu'];

/** Stable, short and one-way, so logs can name an endpoint without leaking its token. */
export function endpointId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

/**
 * Reads WEBHOOK_URL (comma-separated), WEBHOOK_FORMAT (default standard) and WEBHOOK_SECRET.
 * http is allowed (loopback receivers, internal gateways); other schemes are rejected.
 * Messages never echo a url, whose query string often is the credential.
 */
export function parseWebhookEndpoints(env: NodeJS.ProcessEnv = process.env): WebhookEndpoint[] {
  const rawUrls = env.WEBHOOK_URL?.trim();
  if (!rawUrls) return [];
  const rawFormat = env.WEBHOOK_FORMAT?.trim() || 'standard';
  if (!(WEBHOOK_FORMATS as readonly string[]).includes(rawFormat)) {
    throw new ConfigError('WEBHOOK_FORMAT', `must be one of ${WEBHOOK_FORMATS.join(', ')}`);
  }
  const format = rawFormat as WebhookFormat;
  const secret = env.WEBHOOK_SECRET?.trim() || undefined;
  if (!secret && FORMATS_NEEDING_SECRET.includes(format)) {
    throw new ConfigError('WEBHOOK_SECRET', `is required when WEBHOOK_FORMAT is ${format}`);
  }
  return rawUrls
    .split(',')
    .map((entry) => entry.trim())
    .map((entry, index) => ({ entry, index }))
    .filter(({ entry }) => entry !== '')
    .map(({ entry, index }) => {
      let parsed: URL;
      try {
        parsed = new URL(entry);
      } catch {
        throw new ConfigError('WEBHOOK_URL', `entry ${index + 1} is not a valid URL`);
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new ConfigError(
          'WEBHOOK_URL',
          `entry ${index + 1} must use https (or http), not ${parsed.protocol}`,
        );
      }
      return { id: endpointId(entry), url: entry, format, secret };
    });
}

import { createHash } from 'node:crypto';
import { ConfigError } from '../config-error';
import { STANDARD_SECRET_PREFIX, standardSigningKey } from './formats/standard';
import { WEBHOOK_FORMATS, type WebhookEndpoint, type WebhookFormat } from './types';

export { ConfigError };

const FORMATS_NEEDING_SECRET: readonly WebhookFormat[] = ['standard', 'meta', 'dingtalk', 'feishu'];

/** Stable, short and one-way, so logs can name an endpoint without leaking its token. */
export function endpointId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

/** Standard Webhooks secrets are 24–64 random bytes; fewer is guessable, more is no receiver's. */
const STANDARD_SECRET_BYTES = { min: 24, max: 64 } as const;

/**
 * Standard Webhooks secrets are `whsec_` + base64 of the key. A receiver's library base64-decodes whatever
 * it is given, so a bare string would be read as base64 there: only the documented form is accepted, and
 * the base64 must be padded, which both Node and the reference library then decode alike.
 * The messages never echo the value: it is the signing key.
 */
function checkStandardSecret(secret: string): void {
  if (!secret.startsWith(STANDARD_SECRET_PREFIX)) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      'must start with whsec_ for the standard format (Standard Webhooks): set whsec_ followed by the output of `openssl rand -base64 32`, and give the receiver that same string',
    );
  }
  const encoded = secret.slice(STANDARD_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      'starts with whsec_ but the rest is not padded base64: set whsec_ followed by the output of `openssl rand -base64 32`',
    );
  }
  const bytes = standardSigningKey(secret).length;
  if (bytes < STANDARD_SECRET_BYTES.min || bytes > STANDARD_SECRET_BYTES.max) {
    throw new ConfigError(
      'WEBHOOK_SECRET',
      `must decode to ${STANDARD_SECRET_BYTES.min}–${STANDARD_SECRET_BYTES.max} bytes (Standard Webhooks), not ${bytes}: set whsec_ followed by the output of \`openssl rand -base64 32\``,
    );
  }
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
  if (secret && format === 'standard') checkStandardSecret(secret);
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
      // Requests go to origin + path with no Authorization header: a user:password@ would be
      // dropped silently and every event refused with a 401 until it is dead-lettered.
      if (parsed.username !== '' || parsed.password !== '') {
        throw new ConfigError(
          'WEBHOOK_URL',
          `entry ${index + 1} carries a user name or password (user:password@), which is never sent: remove it, and let the receiver authenticate the URL's token or the signature (WEBHOOK_SECRET) instead`,
        );
      }
      return { id: endpointId(entry), url: entry, format, secret };
    });
}

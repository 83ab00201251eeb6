import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';

export const STANDARD_SECRET_PREFIX = 'whsec_';

/**
 * The HMAC key, derived from the secret exactly as the reference library (`new Webhook(secret)`) does:
 * an optional `whsec_` prefix is dropped and the rest is base64-decoded. So a receiver handed the same
 * string verifies what we sign; configuration only lets through `whsec_` + padded base64 (config.ts).
 */
export function standardSigningKey(secret: string): Buffer {
  return Buffer.from(
    secret.startsWith(STANDARD_SECRET_PREFIX) ? secret.slice(STANDARD_SECRET_PREFIX.length) : secret,
    'base64',
  );
}

export function signStandard(secret: string, id: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', standardSigningKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

export const standardFormat: FormatAdapter = {
  hasSignatureHeader: true,
  build(event, endpoint, nowMs) {
    const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
    const timestamp = Math.floor(nowMs / 1000);
    return {
      url: endpoint.url,
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandard(endpoint.secret ?? '', event.id, timestamp, body),
      },
    };
  },
};

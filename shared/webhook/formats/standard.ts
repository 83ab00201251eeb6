import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';

/**
 * Standard Webhooks secrets are `whsec_` + base64 and the HMAC key is the decoded bytes.
 * A secret without the prefix is used as its raw UTF-8 bytes (receivers verify with
 * `new Webhook(Buffer.from(secret).toString('base64'))`).
 */
export function standardSigningKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret, 'utf8');
}

export function signStandard(secret: string, id: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', standardSigningKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

export const standardFormat: FormatAdapter = {
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

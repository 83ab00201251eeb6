import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';

export function signMeta(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Meta's `flows` webhook envelope, so receivers built for the Cloud API work unchanged. */
export const metaFormat: FormatAdapter = {
  hasSignatureHeader: true,
  build(event, endpoint, nowMs) {
    const { data } = event;
    const status = data.status ?? 'DELETED';
    const message = data.previousStatus
      ? `Flow ${data.flowName} changed status from ${data.previousStatus} to ${status}`
      : `Flow ${data.flowName} status is ${status}`;
    const value: Record<string, string> = { event: 'FLOW_STATUS_CHANGE', message, flow_id: data.flowId };
    if (data.previousStatus) value.old_status = data.previousStatus;
    value.new_status = status;
    const body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: data.custSpaceId ?? '',
          time: Math.floor(Date.parse(event.timestamp) / 1000) || Math.floor(nowMs / 1000),
          changes: [{ value, field: 'flows' }],
        },
      ],
    });
    return {
      url: endpoint.url,
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.id,
        'x-hub-signature-256': signMeta(endpoint.secret ?? '', body),
      },
    };
  },
};

import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';
import { describeEvent, parseJson } from './text';

/** Feishu signing is the other way round from DingTalk: key `${s}\n${secret}`, empty message. */
export function signFeishu(secret: string, timestampSeconds: number): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export const feishuFormat: FormatAdapter = {
  build(event, endpoint, nowMs) {
    const timestamp = Math.floor(nowMs / 1000);
    return {
      url: endpoint.url,
      body: JSON.stringify({
        timestamp: String(timestamp),
        sign: signFeishu(endpoint.secret ?? '', timestamp),
        msg_type: 'text',
        content: { text: describeEvent(event) },
      }),
      headers: { 'content-type': 'application/json', 'webhook-id': event.id },
    };
  },
  // Current answers carry `code`; older ones `StatusCode`. Both use 0 for success.
  judgeSuccess(httpStatus, bodyText) {
    const answer = parseJson(bodyText);
    const code = answer?.code ?? answer?.StatusCode;
    if (code === 0) return { kind: 'delivered', httpStatus };
    return {
      kind: 'retry',
      httpStatus,
      reason: `Feishu bot refused the message: code ${String(code ?? 'missing')}`,
    };
  },
};

import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';
import { describeEvent, parseJson } from './text';

/** DingTalk custom robot signing: HMAC key is the secret, message is `${ms}\n${secret}`. */
export function signDingtalk(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

export const dingtalkFormat: FormatAdapter = {
  build(event, endpoint, nowMs) {
    const url = new URL(endpoint.url);
    url.searchParams.set('timestamp', String(nowMs));
    url.searchParams.set('sign', signDingtalk(endpoint.secret ?? '', nowMs));
    // A text message, not markdown: DingTalk's markdown documents no escape, and would show a flow
    // name's images (fetched by every client), headings and disguised links. Text shows it as it is.
    const content = describeEvent(event, (value) => value);
    return {
      url: url.toString(),
      body: JSON.stringify({ msgtype: 'text', text: { content } }),
      headers: { 'content-type': 'application/json', 'webhook-id': event.id },
    };
  },
  // DingTalk answers HTTP 200 even when it refuses a message; only errcode 0 is success.
  judgeSuccess(httpStatus, bodyText) {
    const answer = parseJson(bodyText);
    if (answer?.errcode === 0) return { kind: 'delivered', httpStatus };
    return {
      kind: 'retry',
      httpStatus,
      reason: `DingTalk robot refused the message: errcode ${String(answer?.errcode ?? 'missing')}`,
    };
  },
};

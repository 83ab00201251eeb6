import { createHmac } from 'node:crypto';
import type { FormatAdapter } from '../types';
import { describeEvent, type MarkupEscaper, parseJson } from './text';

/**
 * Feishu text messages interpret tags (`<at user_id="all">` mentions everyone; style tags) and
 * `[label](url)` links, and document no escape for them, so those characters become their
 * full-width look-alikes, which it shows as they are. `&` goes too, in case a client decodes entities.
 */
const FEISHU_LOOK_ALIKES: Readonly<Record<string, string>> = {
  '<': '\uff1c',
  '>': '\uff1e',
  '[': '\uff3b',
  ']': '\uff3d',
  '&': '\uff06',
};

export const escapeFeishu: MarkupEscaper = (value) =>
  value.replace(/[<>[\]&]/g, (character) => FEISHU_LOOK_ALIKES[character] ?? character);

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
        content: { text: describeEvent(event, escapeFeishu) },
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

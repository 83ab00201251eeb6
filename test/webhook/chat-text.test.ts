import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../shared/clock';
import { toOneLine } from '../../shared/one-line';
import { createWebhookPublisher, type FlowEvent, type WebhookEndpoint } from '../../shared/webhook';
import { startCaptureServer } from '../support/capture-server';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const clock: Clock = {
  now: () => NOW,
  sleep: (_ms, signal) =>
    new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
};

function event(flowName: string, status = 'PUBLISHED', previousStatus = 'DRAFT'): FlowEvent {
  return {
    id: 'evt_0123456789abcdef',
    type: 'flow.status_changed',
    timestamp: new Date(NOW).toISOString(),
    data: { flowId: '333993838', flowName, previousStatus, status, observedAt: new Date(NOW).toISOString() },
  };
}

const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

type ChatFormat = 'slack' | 'feishu' | 'dingtalk';

/** Delivers through a real loopback server and returns the whole body and the line the robot shows. */
async function sent(format: ChatFormat, flowEvent: FlowEvent): Promise<{ body: string; line: string }> {
  const server = await startCaptureServer(() => ({ status: 200, body: '{"errcode":0,"code":0}' }));
  servers.push(server);
  const endpoint: WebhookEndpoint = { id: 'ep', url: `${server.endpoint}/hook`, format, secret: 'SECrobot' };
  const outcome = await createWebhookPublisher({ clock }).deliver(flowEvent, endpoint);
  expect(outcome.kind).toBe('delivered');
  const body = server.captured[0]?.body.toString() ?? '';
  const parsed = JSON.parse(body);
  const line: unknown =
    format === 'slack' ? parsed.text : format === 'feishu' ? parsed.content.text : parsed.text?.content;
  expect(typeof line).toBe('string');
  return { body, line: line as string };
}

const HOSTILE_NAMES = [
  ['a Slack broadcast', '<!channel> <!here> <@U024BE7LH>'],
  ['a Slack link whose label hides the url', '<https://evil.example/login|re-verify your WABA>'],
  ['a Feishu @all', '<at user_id="all">所有人</at>'],
  ['Feishu style tags and a link', '<b>urgent</b> [Approve here](https://evil.example)'],
  [
    'a DingTalk image, heading and link',
    'x\n\n![](https://tracker.example/p.png)\n\n# x\n[Approve](https://evil.example)',
  ],
  ['fake lines', 'Signup\r\nWhatsApp Flow Payments [1] changed status to DELETED\u2028\u2029x'],
  ['a bidi override', 'Signup\u202egnp.exe\u2066x\u2069'],
  ['an entity that would decode to a tag', '&lt;at user_id="all"&gt; &amp;'],
  ['a 30 kB name', 'n'.repeat(30_000)],
] as const;

describe('chat robots show a hostile flow name as inert text', () => {
  it.each(HOSTILE_NAMES)('slack: %s', async (_kind, name) => {
    const { line } = await sent('slack', event(name, 'PUBLISHED\n\n<!channel>'));
    expect(line).not.toMatch(/[<>\r\n\u2028\u2029\u202e\u2066]/);
    expect(line.replace(/&(amp|lt|gt);/g, '')).not.toContain('&');
    expect(line.length).toBeLessThan(700);
  });

  it.each(HOSTILE_NAMES)('feishu: %s', async (_kind, name) => {
    const { line } = await sent('feishu', event(name, 'PUBLISHED\n\n<at user_id="all"></at>'));
    expect(line).not.toMatch(/[<>&\r\n\u2028\u2029\u202e\u2066]/);
    expect(line).not.toContain('](');
    expect(line.length).toBeLessThan(700);
  });

  it.each(HOSTILE_NAMES)('dingtalk: %s', async (_kind, name) => {
    const { body, line } = await sent('dingtalk', event(name, 'PUBLISHED\n\n# all flows DELETED'));
    expect(JSON.parse(body)).toMatchObject({ msgtype: 'text' });
    expect(JSON.parse(body).markdown).toBeUndefined();
    expect(line).not.toMatch(/[\r\n\u2028\u2029\u202e\u2066]/);
    expect(line.length).toBeLessThan(700);
  });

  it('slack escapes exactly &, < and > as its formatting reference says', async () => {
    const { line } = await sent('slack', event('R&D <!channel> "quoted" *bold*'));
    expect(line).toContain('WhatsApp Flow R&amp;D &lt;!channel&gt; "quoted" *bold* [333993838]');
  });

  it('feishu shows tags and links as full-width look-alikes', async () => {
    const { line } = await sent('feishu', event('<at user_id="all">x</at> [a](b) R&D'));
    expect(line).toContain('＜at user_id="all"＞x＜/at＞ ［a］(b) R＆D [333993838]');
  });

  it('a status with newlines stays on one line in every chat format', async () => {
    for (const format of ['slack', 'feishu', 'dingtalk'] as const) {
      const { line } = await sent(format, event('Signup', 'PUBLISHED\n\n# all flows DELETED', 'DRAFT\rX'));
      expect(line).toContain('from DRAFT X to PUBLISHED  # all flows DELETED at');
    }
  });

  it('every chat body stays far under the robots’ 20 kB limit whatever the name', async () => {
    for (const format of ['slack', 'feishu', 'dingtalk'] as const) {
      const { body, line } = await sent(format, event('名'.repeat(30_000), 'S'.repeat(50_000)));
      expect(Buffer.byteLength(body)).toBeLessThan(2_000);
      expect(line).toContain(`${'名'.repeat(199)}… [333993838]`);
    }
  });
});

describe('standard and meta carry the exact values (JSON escaping is enough)', () => {
  const name = '<at user_id="all">x</at> <!channel>\n# heading & [a](b)';

  it('standard', async () => {
    const server = await startCaptureServer(() => ({ status: 204, body: '' }));
    servers.push(server);
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    await createWebhookPublisher({ clock }).deliver(event(name), {
      id: 'ep',
      url: `${server.endpoint}/hook`,
      format: 'standard',
      secret,
    });
    expect(JSON.parse(server.captured[0]?.body.toString() ?? '').data.flowName).toBe(name);
  });

  it('meta', async () => {
    const server = await startCaptureServer(() => ({ status: 200, body: '' }));
    servers.push(server);
    await createWebhookPublisher({ clock }).deliver(event(name), {
      id: 'ep',
      url: `${server.endpoint}/hook`,
      format: 'meta',
      secret: 'app-secret',
    });
    const value = JSON.parse(server.captured[0]?.body.toString() ?? '').entry[0].changes[0].value;
    expect(value.message).toBe(`Flow ${name} changed status from DRAFT to PUBLISHED`);
  });
});

describe('toOneLine', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly10!', 10, 'exactly10!'],
    ['eleven char', 10, 'eleven ch…'],
    ['a\nb\tc\u0000d', 10, 'a b c d'],
    ['😀'.repeat(12), 10, `${'😀'.repeat(9)}…`],
    ['😀'.repeat(10), 10, '😀'.repeat(10)],
  ])('%j cut to %i code points is %j', (value, maxChars, expected) => {
    expect(toOneLine(value, maxChars)).toBe(expected);
  });
});

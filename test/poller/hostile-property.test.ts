import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { startWebhookReceiver, type WebhookReceiver } from '../../local/webhook-receiver';
import { coldStart } from '../http/harness';
import { freshStateDirectory, pollerInstance, stateAt, WEBHOOK_SECRET } from './bundle-harness';

const FLOW_ID = '830000000000001';
let simulator: CamsSimulator;
let receiver: WebhookReceiver;

beforeAll(async () => {
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [{ flowId: FLOW_ID, flowName: 'prop', status: 'PUBLISHED' }],
  });
  receiver = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await receiver.close();
  await simulator.close();
});

const status = fc.constantFrom('PUBLISHED', 'THROTTLED', 'BLOCKED', 'DRAFT', 'NEW_ONE', 'UNDER_REVIEW');
const junk = fc.oneof(fc.jsonValue(), fc.string({ maxLength: 40 }), fc.constant(null), fc.double());
/** A hostile rewrite of one GetFlow answer; the flow's real status is never faked. */
const hostile = fc.oneof(
  fc
    .record({
      field: fc.constantFrom(
        'FlowId',
        'PreviewUrl',
        'PreviewUrlExpires',
        'Categories',
        'FlowName',
        'EndpointUri',
      ),
      value: junk,
    })
    .map(({ field, value }) => (answer: Record<string, unknown>) => ({
      ...answer,
      Data: { ...(answer.Data as object), [field]: value },
    })),
  junk.map((value) => (answer: Record<string, unknown>) => ({ ...answer, Data: value })),
  fc
    .string({ maxLength: 80 })
    .map((code) => (answer: Record<string, unknown>) => ({ ...answer, Code: code || 'X', Message: code })),
  fc.string({ maxLength: 80 }).map((body) => () => body),
);
const step = fc.record({ status, answer: fc.option(hostile, { nil: undefined }) });

describe('both functions under generated hostile CAMS answers', () => {
  it('never throw, never answer 500, and deliver each real transition once under one id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 5 }), async (steps) => {
        simulator.clearFaults();
        simulator.setStatus(FLOW_ID, 'PUBLISHED');
        const directory = freshStateDirectory();
        const poller = pollerInstance({
          CAMS_ENDPOINT: simulator.endpoint,
          WATCH_FLOWS: FLOW_ID,
          WATCH_CUST_SPACES: '',
          WEBHOOK_URL: receiver.url,
          WEBHOOK_SECRET,
          STATE_URL: `file:${directory}`,
          POLL_INTERVALS: '*=60',
        });
        const http = coldStart({
          CAMS_ENDPOINT: simulator.endpoint,
          HTTP_API_TOKENS: 't',
          HTTP_CACHE_TTL_SECONDS: '0',
        });
        const store = stateAt(directory);
        const from = receiver.received.length;
        const makeDue = async () => {
          const item = await store.get<Record<string, unknown>>(`flow/-/${FLOW_ID}`);
          if (item) await store.put(item.key, { ...item.value, lastCheckedAt: 0, retryAt: 0 }, item.version);
        };
        try {
          const baseline = await poller.run(2);
          expect(baseline.error).toBeUndefined();
          const real = new Set(['PUBLISHED']);
          for (const { status: next, answer } of [
            ...steps,
            { status: steps.at(-1)?.status ?? 'PUBLISHED', answer: undefined },
          ]) {
            simulator.setStatus(FLOW_ID, next);
            real.add(next);
            if (answer)
              simulator.injectFault({ kind: 'answer', rewrite: answer }, { action: 'GetFlow', times: 2 });
            const answered = await http.invoke(
              { path: `/flows/${FLOW_ID}`, headers: { authorization: 'Bearer t' } },
              { credentials: SIMULATOR_CREDENTIALS },
            );
            expect(answered.statusCode).not.toBe(500);
            expect(answered.body).not.toMatch(/\n\s+at /);
            await makeDue();
            const summary = await poller.run(2);
            expect(summary.error).toBeUndefined();
            simulator.clearFaults();
          }
          // The last step ran clean: the record holds the real status now.
          const events = receiver.received
            .slice(from)
            .filter((delivery) => delivery.verified)
            .map((delivery) => {
              const { data } = JSON.parse(delivery.body) as {
                data: { previousStatus?: string; status?: string };
              };
              return { id: delivery.id, previousStatus: data.previousStatus, status: data.status };
            });
          expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
          let known = 'PUBLISHED';
          for (const event of events) {
            expect(event.previousStatus).toBe(known);
            expect(real.has(event.status ?? '')).toBe(true);
            expect(event.status).not.toBe(known);
            known = event.status ?? '';
          }
          expect(known).toBe(steps.at(-1)?.status);
        } finally {
          poller.restore();
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);
});

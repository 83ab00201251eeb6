/**
 * The floor under the HTTP function's watched answer: the same Tablestore read through our own
 * store client (signing, wire format, node's http and crypto), and nothing else — no event or
 * configuration validation, no routing, auth, answer validation or log line. What our handler adds
 * above this row is the cost of those; what this row adds above node is the store read itself.
 */
import { flowKey } from '../shared/poller/records';
import { createStateStore } from '../shared/state';

interface Context {
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
}

export const handler = async (event: Buffer, context: Context) => {
  const { rawPath } = JSON.parse(event.toString()) as { rawPath: string };
  const store = await createStateStore(process.env.STATE_URL ?? '', { credentials: context.credentials });
  const item = await store.get(flowKey(rawPath.split('/')[2] ?? '', undefined));
  const flow = (item?.value as { lastRead?: { flow?: unknown } } | undefined)?.lastRead?.flow;
  // A miss must not pass for the floor: the bench's child fails on anything but a 200.
  if (flow === undefined) return { statusCode: 404, headers: {}, isBase64Encoded: false, body: '' };
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    body: JSON.stringify(flow),
  };
};

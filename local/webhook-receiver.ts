import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { text } from 'node:stream/consumers';
import { Webhook } from 'standardwebhooks';
import { type ConnectionWatch, watchConnections } from './connections';
import { listen } from './listen';

export interface ReceivedDelivery {
  id: string | undefined;
  type: string | undefined;
  body: string;
  headers: IncomingHttpHeaders;
  verified: boolean;
}

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type ReceiverResponder = (delivery: ReceivedDelivery) => ReceiverAnswer | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  readonly received: ReceivedDelivery[];
  /** Requests held unanswered right now (a responder returned 'hang' and the client is still there). */
  readonly hanging: number;
  readonly connections: ConnectionWatch;
  setResponse(response: number | ReceiverAnswer | ReceiverResponder): void;
  close(): Promise<void>;
}

export interface WebhookReceiverOptions {
  secret: string;
  port?: number;
  respond?: number | ReceiverAnswer | ReceiverResponder;
  log?: (delivery: ReceivedDelivery) => void;
}

/**
 * The secret goes to the reference library as given, the way a receiver following its docs uses it.
 * The library refuses a secret that is not base64 (a meta app secret, say): such a receiver then
 * verifies no Standard Webhooks delivery, rather than failing to start.
 */
function standardVerifier(secret: string): Webhook | undefined {
  try {
    return new Webhook(secret);
  } catch {
    return undefined;
  }
}

function verifyMeta(secret: string, body: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function toResponder(response: number | ReceiverAnswer | ReceiverResponder): ReceiverResponder {
  if (typeof response === 'function') return response;
  if (typeof response === 'number') return () => ({ status: response });
  return () => response;
}

/** A real loopback receiver that verifies Standard Webhooks and Meta-signed deliveries. */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const verifier = standardVerifier(options.secret);
  const received: ReceivedDelivery[] = [];
  // Like a real receiver: 204 for a delivery whose signature holds, 401 for one that does not.
  let responder = toResponder(
    options.respond ?? ((delivery: ReceivedDelivery) => ({ status: delivery.verified ? 204 : 401 })),
  );
  const hanging = new Set<ServerResponse>();

  function verify(body: string, headers: IncomingHttpHeaders): boolean {
    if (headers['x-hub-signature-256'] !== undefined) {
      return verifyMeta(options.secret, body, headers['x-hub-signature-256']);
    }
    if (verifier === undefined) return false;
    try {
      verifier.verify(body, {
        'webhook-id': String(headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(headers['webhook-signature'] ?? ''),
      });
      return true;
    } catch {
      return false;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await text(req);
    let type: string | undefined;
    try {
      const parsed = JSON.parse(body) as { type?: unknown };
      type = typeof parsed.type === 'string' ? parsed.type : undefined;
    } catch {
      type = undefined;
    }
    const headerId = req.headers['webhook-id'];
    const delivery: ReceivedDelivery = {
      id: typeof headerId === 'string' ? headerId : undefined,
      type,
      body,
      headers: req.headers,
      verified: verify(body, req.headers),
    };
    received.push(delivery);
    if (delivery.verified) options.log?.(delivery);
    const answer = responder(delivery);
    if (answer === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body ?? '');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  const connections = watchConnections(server);
  const { port } = await listen(server, options.port ?? 0, '127.0.0.1');

  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    connections,
    get hanging() {
      return hanging.size;
    },
    setResponse(response) {
      responder = toResponder(response);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

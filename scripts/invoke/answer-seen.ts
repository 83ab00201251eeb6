import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** The status line and request id of the last HTTP answer an FC API call got. */
export interface AnswerSeen {
  readonly status: number;
  /** FC's x-fc-request-id (or the gateway's x-acs-request-id), when the answer had one. */
  readonly requestId: string | undefined;
}

interface Slot {
  answer?: AnswerSeen;
}

/**
 * The FC SDK (@alicloud/openapi-core's doRequest) parses every 4xx/5xx body as FC's JSON error;
 * anything else (a gateway's HTML 502, an empty 403) makes it throw a bare SyntaxError with the
 * status and request id gone. Node publishes each outgoing request on this channel synchronously
 * from http.request(), inside the caller's async context, so a call wrapped in `seeingAnswer`
 * learns its own answer's status line even when the SDK drops it.
 */
const calls = new AsyncLocalStorage<Slot>();
let isSubscribed = false;

function headerValue(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function onRequestStart(message: unknown): void {
  const slot = calls.getStore();
  if (!slot) return;
  const { request } = message as { request: ClientRequest };
  request.once('response', (response: IncomingMessage) => {
    slot.answer = {
      status: response.statusCode ?? 0,
      requestId: headerValue(response, 'x-fc-request-id') ?? headerValue(response, 'x-acs-request-id'),
    };
  });
}

/** Runs `call`; on failure, `onFailure` gets the error and the answer seen (if one came). */
export async function seeingAnswer<T>(
  call: () => Promise<T>,
  onFailure: (error: unknown, answer: AnswerSeen | undefined) => Error,
): Promise<T> {
  if (!isSubscribed) {
    subscribe('http.client.request.start', onRequestStart);
    isSubscribed = true;
  }
  const slot: Slot = {};
  try {
    return await calls.run(slot, call);
  } catch (error) {
    throw onFailure(error, slot.answer);
  }
}

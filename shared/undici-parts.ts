/**
 * The pieces of undici this project calls: the keep-alive Agent, its `request` API and the
 * connector the Agent would build itself (the CAMS client wraps it to see connections set up).
 * undici's entry point also loads fetch, WebSocket, EventSource, the cache and mock layers
 * (~530 KB minified, ~45 ms to load here); the Agent and `request` alone are ~290 KB. FC's
 * runtime starts a fresh process for every new instance, so that load is user-facing latency.
 */
import type { Dispatcher } from 'undici';
import requestWith from 'undici/lib/api/api-request.js';
// Already loaded by the Agent's Client, so exporting it costs nothing more.
import undiciBuildConnector from 'undici/lib/core/connect.js';
import UndiciAgent from 'undici/lib/dispatcher/agent.js';

export const Agent = UndiciAgent;
export type Agent = InstanceType<typeof UndiciAgent>;
export const buildConnector = undiciBuildConnector;

/** `dispatcher.request(options)`: the method undici's entry point would install on Dispatcher. */
export function request(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return requestWith.call(dispatcher, options);
}

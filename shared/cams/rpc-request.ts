import { CAMS_API_VERSION } from './api-version';
import { encodeForm } from './percent-encode';
import { formatAcsDate, signRequest } from './signer';
import type { Credentials } from './types';

export interface RpcRequestInput {
  readonly endpoint: URL;
  readonly action: string;
  /** Form fields in the order the official SDK writes them. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  readonly credentials: Credentials;
  readonly nowMs: number;
  readonly nonce: string;
}

export interface RpcRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A CAMS RPC call as the official SDK sends it with ACS3 signing: `POST /`, empty query,
 * form body, action and version as `x-acs-*` headers.
 */
export function buildRpcRequest(input: RpcRequestInput): RpcRequest {
  const body = encodeForm(input.fields);
  const signed = signRequest({
    method: 'POST',
    host: input.endpoint.host,
    path: '/',
    query: {},
    headers: {
      'x-acs-action': input.action,
      'x-acs-version': CAMS_API_VERSION,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
    credentials: input.credentials,
    date: formatAcsDate(input.nowMs),
    nonce: input.nonce,
  });
  return {
    url: new URL('/', input.endpoint).toString(),
    headers: { ...signed.headers, accept: 'application/json' },
    body,
  };
}

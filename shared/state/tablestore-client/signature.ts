/**
 * Request headers and signature for Tablestore's API (version 2015-12-31), as documented:
 *   StringToSign = "/" Operation "\n" "POST" "\n" "" "\n" CanonicalHeaders
 * CanonicalHeaders are the request's `x-ots-*` headers (not the signature itself), lower-cased
 * and sorted, each `name:value\n`; the signature is base64(HMAC-SHA1(secret, StringToSign)).
 * Pure: the date is passed in, nothing is read from the clock.
 */
import { createHash, createHmac } from 'node:crypto';
import type { Credentials } from '../../cams/types';

export const OTS_API_VERSION = '2015-12-31';

export interface SignInput {
  readonly operation: string;
  readonly body: Uint8Array;
  readonly instance: string;
  readonly credentials: Credentials;
  readonly nowMs: number;
}

export function signOtsRequest(input: SignInput): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ots-date': new Date(input.nowMs).toISOString(),
    'x-ots-apiversion': OTS_API_VERSION,
    'x-ots-accesskeyid': input.credentials.accessKeyId,
    'x-ots-instancename': input.instance,
    'x-ots-contentmd5': createHash('md5').update(input.body).digest('base64'),
  };
  if (input.credentials.securityToken) headers['x-ots-ststoken'] = input.credentials.securityToken;
  const canonical = Object.keys(headers)
    .sort()
    .map((name) => `${name}:${headers[name]?.trim()}\n`)
    .join('');
  headers['x-ots-signature'] = createHmac('sha1', input.credentials.accessKeySecret)
    .update(`/${input.operation}\nPOST\n\n${canonical}`)
    .digest('base64');
  return headers;
}

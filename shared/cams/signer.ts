import { createHash, createHmac } from 'node:crypto';
import { percentEncode } from './percent-encode';
import type { Credentials } from './types';

export const SIGNATURE_ALGORITHM = 'ACS3-HMAC-SHA256';

export interface SignableRequest {
  readonly method: string;
  /** Host exactly as sent, with `:port` when the endpoint names one. */
  readonly host: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Headers to send besides the ones the signer adds. `x-acs-*` and `content-type` are signed. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | string;
  readonly credentials: Credentials;
  /** `YYYY-MM-DDTHH:mm:ssZ`, see {@link formatAcsDate}. */
  readonly date: string;
  readonly nonce: string;
}

export interface SignedRequest {
  /** Every header to send, lower-cased names, `authorization` included. */
  readonly headers: Record<string, string>;
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly signature: string;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** ACS3 wants second precision and a literal `Z`; `toISOString` adds milliseconds. */
export function formatAcsDate(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}Z`;
}

export function canonicalQueryString(query: Readonly<Record<string, string>>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${percentEncode(name)}=${percentEncode(query[name] ?? '')}`)
    .join('&');
}

function isSignedHeader(name: string): boolean {
  return name.startsWith('x-acs-') || name === 'host' || name === 'content-type';
}

/**
 * Signs a request with ACS3-HMAC-SHA256. Pure: the caller supplies date and nonce, so the
 * worked example from the documentation reproduces byte for byte and tests need no clock.
 */
export function signRequest(request: SignableRequest): SignedRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers.host = request.host;
  headers['x-acs-date'] = request.date;
  headers['x-acs-signature-nonce'] = request.nonce;
  headers['x-acs-content-sha256'] = sha256Hex(request.body);
  if (request.credentials.securityToken) {
    // As the official SDK does with STS credentials: the key id travels as a signed header too.
    headers['x-acs-accesskey-id'] = request.credentials.accessKeyId;
    headers['x-acs-security-token'] = request.credentials.securityToken;
  }

  const signedNames = Object.keys(headers).filter(isSignedHeader).sort();
  const canonicalHeaders = signedNames.map((name) => `${name}:${(headers[name] ?? '').trim()}\n`).join('');
  const signedHeaders = signedNames.join(';');
  const canonicalRequest = [
    request.method.toUpperCase(),
    request.path,
    canonicalQueryString(request.query),
    canonicalHeaders,
    signedHeaders,
    headers['x-acs-content-sha256'],
  ].join('\n');
  const stringToSign = `${SIGNATURE_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', request.credentials.accessKeySecret)
    .update(stringToSign)
    .digest('hex');
  headers.authorization = `${SIGNATURE_ALGORITHM} Credential=${request.credentials.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return { headers, canonicalRequest, stringToSign, signature };
}

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * The simulator's own ACS3-HMAC-SHA256 check, written from the documentation independently of
 * the client's signer (shared/cams/signer.ts), so a bug shared by both cannot cancel out. It
 * rebuilds the canonical request from what actually arrived on the socket.
 */

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** RFC 3986 encoding byte by byte over UTF-8, deliberately not via encodeURIComponent. */
export function rfc3986(value: string): string {
  let out = '';
  for (const char of value) {
    if (UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8'))
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  if (!header) return undefined;
  const match = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(
    header.trim(),
  );
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { accessKeyId: match[1], signedHeaders: match[2].split(';'), signature: match[3] };
}

export interface ArrivedRequest {
  readonly method: string;
  /** Path and raw query as on the request line. */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  if (Array.isArray(value)) return value.map((entry) => entry.trim()).join(',');
  return (value ?? '').trim();
}

export function canonicalRequestOf(request: ArrivedRequest, signedHeaders: readonly string[]): string {
  const questionMark = request.target.indexOf('?');
  const path = questionMark === -1 ? request.target : request.target.slice(0, questionMark);
  const rawQuery = questionMark === -1 ? '' : request.target.slice(questionMark + 1);
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const name = decodeURIComponent((equals === -1 ? part : part.slice(0, equals)).replace(/\+/g, '%20'));
    const value = equals === -1 ? '' : decodeURIComponent(part.slice(equals + 1).replace(/\+/g, '%20'));
    pairs.push([rfc3986(name), rfc3986(value)]);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = pairs.map(([name, value]) => `${name}=${value}`).join('&');
  let canonicalHeaders = '';
  for (const name of signedHeaders) canonicalHeaders += `${name}:${headerValue(request.headers, name)}\n`;
  return [
    request.method,
    path || '/',
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    headerValue(request.headers, 'x-acs-content-sha256'),
  ].join('\n');
}

export function expectedSignature(canonicalRequest: string, accessKeySecret: string): string {
  const hashed = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  return createHmac('sha256', accessKeySecret).update(`ACS3-HMAC-SHA256\n${hashed}`, 'utf8').digest('hex');
}

export type VerifyFailure =
  | 'IncompleteSignature'
  | 'SignatureDoesNotMatch'
  | 'ContentSha256Mismatch'
  | 'UnsignedRequiredHeader';

/** Checks one request against a known secret; `undefined` means the signature holds. */
export function verifyRequest(
  request: ArrivedRequest,
  authorization: ParsedAuthorization,
  accessKeySecret: string,
): VerifyFailure | undefined {
  const names = authorization.signedHeaders;
  const sorted = [...names].sort();
  if (names.some((name, index) => name !== sorted[index] || name !== name.toLowerCase()))
    return 'IncompleteSignature';
  // Every x-acs-* header that arrived, host and content-type (when sent) must be covered by the
  // signature: the V3 documentation lists all three among the signed headers, and a content-type
  // left unsigned could be swapped on the way without breaking the signature.
  for (const name of Object.keys(request.headers)) {
    if ((name.startsWith('x-acs-') || name === 'host' || name === 'content-type') && !names.includes(name))
      return 'UnsignedRequiredHeader';
  }
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  if (headerValue(request.headers, 'x-acs-content-sha256') !== bodyHash) return 'ContentSha256Mismatch';
  const expected = Buffer.from(expectedSignature(canonicalRequestOf(request, names), accessKeySecret), 'hex');
  const given = Buffer.from(authorization.signature, 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'SignatureDoesNotMatch';
  return undefined;
}

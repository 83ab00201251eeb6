/**
 * Tablestore request signatures as the service documents them, written apart from the SDK's
 * signer so a bug in one cannot hide in the other:
 *   StringToSign = CanonicalURI \n Method \n CanonicalQueryString \n CanonicalHeaders
 * where CanonicalHeaders are the `x-ots-*` headers but the signature, lower-cased, sorted, each
 * `name:value` followed by a newline; the signature is base64(HMAC-SHA1(secret, StringToSign)).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export function otsStringToSign(path: string, method: string, headers: IncomingHttpHeaders): string {
  const canonical = Object.entries(headers)
    .map(([name, value]) => [name.toLowerCase(), String(value).trim()] as const)
    .filter(([name]) => name.startsWith('x-ots-') && name !== 'x-ots-signature')
    .sort(([left], [right]) => (left < right ? -1 : 1))
    .map(([name, value]) => `${name}:${value}\n`)
    .join('');
  return `${path}\n${method}\n\n${canonical}`;
}

export function isOtsSignatureValid(
  path: string,
  method: string,
  headers: IncomingHttpHeaders,
  accessKeySecret: string,
): boolean {
  const presented = Buffer.from(String(headers['x-ots-signature'] ?? ''), 'utf8');
  const expected = Buffer.from(
    createHmac('sha1', accessKeySecret)
      .update(otsStringToSign(path, method, headers))
      .digest('base64'),
    'utf8',
  );
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

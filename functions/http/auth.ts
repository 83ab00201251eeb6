import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpConfig } from './config';
import { HttpError } from './http-error';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="cams-flow-watch"' };

/**
 * Deny by default. Tokens are compared as sha256 digests in constant time, against every
 * configured digest, so neither timing nor the position of a match leaks anything.
 */
export function authorise(config: HttpConfig, authorization: string | undefined): void {
  if (config.authMode === 'none') return;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) {
    throw new HttpError(401, 'Unauthorized', 'send Authorization: Bearer <token>', { headers: CHALLENGE });
  }
  const presented = createHash('sha256').update(match[1], 'utf8').digest();
  let accepted = false;
  for (const digest of config.tokenDigests) accepted = timingSafeEqual(presented, digest) || accepted;
  if (!accepted) {
    throw new HttpError(401, 'Unauthorized', 'the bearer token is not accepted', {
      headers: { 'www-authenticate': 'Bearer realm="cams-flow-watch", error="invalid_token"' },
    });
  }
}

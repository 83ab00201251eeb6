import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpConfig } from './config';
import { HttpError } from './http-error';

const CHALLENGE = { 'www-authenticate': 'Bearer realm="cams-flow-watch"' };

function presentedDigest(authorization: string | undefined): Buffer {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match?.[1]) {
    throw new HttpError(401, 'Unauthorized', 'send Authorization: Bearer <token>', { headers: CHALLENGE });
  }
  return createHash('sha256').update(match[1], 'utf8').digest();
}

/** Compares against every digest, so neither timing nor the position of a match leaks anything. */
function isAmong(presented: Buffer, digests: readonly Buffer[]): boolean {
  let accepted = false;
  for (const digest of digests) accepted = timingSafeEqual(presented, digest) || accepted;
  return accepted;
}

function rejected(): HttpError {
  return new HttpError(401, 'Unauthorized', 'the bearer token is not accepted', {
    headers: { 'www-authenticate': 'Bearer realm="cams-flow-watch", error="invalid_token"' },
  });
}

/**
 * Deny by default. Tokens are compared as sha256 digests in constant time, against every
 * configured digest; admin tokens read too.
 */
export function authorise(config: HttpConfig, authorization: string | undefined): void {
  if (config.authMode === 'none') return;
  const presented = presentedDigest(authorization);
  const isReader = isAmong(presented, config.tokenDigests);
  const isAdmin = isAmong(presented, config.adminTokenDigests);
  if (!isReader && !isAdmin) throw rejected();
}

/**
 * For routes that write: only HTTP_ADMIN_TOKENS, whatever HTTP_AUTH says (a trigger that
 * authenticates callers does not tell readers from writers). Returns who asked, as the first
 * 12 hex digits of the token's sha256 — enough to tell tokens apart in logs, useless to replay.
 */
export function authoriseAdmin(config: HttpConfig, authorization: string | undefined): { actor: string } {
  const presented = presentedDigest(authorization);
  if (isAmong(presented, config.adminTokenDigests)) {
    return { actor: `sha256:${presented.toString('hex').slice(0, 12)}` };
  }
  if (isAmong(presented, config.tokenDigests)) {
    throw new HttpError(
      403,
      'Forbidden',
      'this token may only read: writing needs a token from HTTP_ADMIN_TOKENS',
    );
  }
  throw rejected();
}

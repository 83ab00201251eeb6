import type { Flow } from '../../shared/cams';

/**
 * Where an answer came from: this instance's memory, the poller's last read of a watched flow,
 * the cache entry instances share in the store, or CAMS itself.
 */
export type AnswerSource = 'memory' | 'watch' | 'shared' | 'cams';

/** Why CAMS was asked (RFC 9211 `fwd`): nothing stored, only a stale copy, or the caller said no-cache. */
export type ForwardReason = 'miss' | 'stale' | 'request';

export interface SourcedFlow {
  readonly flow: Flow;
  /** Epoch ms at which CAMS answered. */
  readonly readAt: number;
  /** Until when this answer may be served without asking again. */
  readonly freshUntil: number;
  readonly source: Exclude<AnswerSource, 'memory'>;
  readonly forwardReason?: ForwardReason | undefined;
  /** Waited on another instance's CAMS read instead of making one. */
  readonly isCollapsed?: boolean | undefined;
  /** A CAMS answer this request wrote as the cache entry every instance reads. */
  readonly isShared?: boolean | undefined;
}

const CACHE_NAME = 'cams-flow-watch';

/**
 * RFC 9211 Cache-Status: one entry for this function's caches. `detail` names the layer that
 * answered; `ttl` (seconds of freshness left) is left out when CAMS was asked. `stored` says the
 * CAMS answer was kept (shared in the store or in this instance's memory): with
 * HTTP_CACHE_TTL_SECONDS=0, or a share the store refused with nothing kept in memory, the next
 * request asks CAMS again, and the header must not claim otherwise.
 */
export function cacheStatus(
  source: AnswerSource,
  answer: SourcedFlow,
  nowMs: number,
  flags: { readonly isCollapsed: boolean; readonly isStored: boolean },
): string {
  const ttlS = Math.floor((answer.freshUntil - nowMs) / 1000);
  const parts = [CACHE_NAME];
  if (source === 'cams') {
    parts.push(`fwd=${answer.forwardReason ?? 'miss'}`, 'fwd-status=200');
    if (flags.isStored) parts.push('stored');
  } else {
    parts.push('hit', `ttl=${ttlS}`, `detail=${source}`);
  }
  if (flags.isCollapsed || answer.isCollapsed) parts.push('collapsed');
  return parts.join('; ');
}

/** RFC 9111 Age: whole seconds since CAMS answered. */
export function ageSeconds(answer: SourcedFlow, nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - answer.readAt) / 1000));
}

/** A receiver may ask for a pause, not for an event to wait out its whole delivery window. */
export const MAX_RETRY_AFTER_MS = 3600_000;

/**
 * Retry-After per RFC 9110 §10.2.3: either delay-seconds or an HTTP-date, the latter read
 * against the injected clock. Unparseable values are ignored rather than trusted; anything
 * beyond an hour is read as an hour.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(MAX_RETRY_AFTER_MS, Number(trimmed) * 1000);
  const dateMs = Date.parse(trimmed);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, dateMs - nowMs));
}

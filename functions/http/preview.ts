import type { Flow } from '../../shared/cams';

/** A flow's preview link, checked and parsed once per answer. */
export interface UsablePreview {
  readonly url: string;
  /** When CAMS says the link stops working; undefined when it said nothing parsable. */
  readonly expiresAt: number | undefined;
}

/**
 * The preview link a `/preview` answer may redirect to: https only, so a CAMS answer (or an
 * impostor's) cannot send a caller to `javascript:`, `data:` or plain http, and without control
 * characters or spaces, which would split or corrupt the `Location` header.
 */
export function usablePreview(flow: Flow): UsablePreview | undefined {
  const raw = flow.previewUrl;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (!raw || raw.length > 4096 || /[\u0000-\u0020\u007f-\u009f\u2028\u2029]/.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.hostname === '') return undefined;
  const expiresAt =
    flow.previewUrlExpiresAt === undefined ? Number.NaN : Date.parse(flow.previewUrlExpiresAt);
  return { url: raw, expiresAt: Number.isNaN(expiresAt) ? undefined : expiresAt };
}

/**
 * Whether an answer may be served as it is. A flow without a usable preview link has nothing to
 * go stale (/preview answers 404 from it); one whose link has no known expiry serves the flow's
 * status but not a redirect, which wants a link known to stay valid `minValidityMs`.
 */
export function hasUsablePreview(
  preview: UsablePreview | undefined,
  nowMs: number,
  minValidityMs: number,
): boolean {
  if (!preview) return true;
  if (preview.expiresAt === undefined) return minValidityMs === 0;
  return preview.expiresAt - nowMs >= minValidityMs && preview.expiresAt > nowMs;
}

/**
 * When an answer stops being worth caching because of its preview link. A link without a known
 * expiry is not cached (it may already be dead); a flow without a usable link has nothing to expire.
 */
export function previewExpiryOf(preview: UsablePreview | undefined, loadedAt: number): number {
  if (!preview) return Number.POSITIVE_INFINITY;
  return preview.expiresAt ?? loadedAt;
}

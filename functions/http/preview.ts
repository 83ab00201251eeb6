import type { Flow } from '../../shared/cams';

/**
 * The preview link a `/preview` answer may redirect to: https only, so a CAMS answer (or an
 * impostor's) cannot send a caller to `javascript:`, `data:` or plain http, and without control
 * characters or spaces, which would split or corrupt the `Location` header.
 */
export function usablePreviewUrl(flow: Flow): string | undefined {
  const raw = flow.previewUrl;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (!raw || raw.length > 4096 || /[\u0000-\u0020\u007f-\u009f\u2028\u2029]/.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  return url.protocol === 'https:' && url.hostname !== '' ? raw : undefined;
}

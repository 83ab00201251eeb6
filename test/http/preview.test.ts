import { describe, expect, it } from 'vitest';
import { hasUsablePreview, previewExpiryOf, usablePreview } from '../../functions/http/preview';
import type { Flow } from '../../shared/cams';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');
const MIN_VALIDITY_MS = 60_000;

function flowWith(previewUrl: string, previewUrlExpiresAt?: string): Flow {
  return {
    flowId: '926753328126431',
    flowName: 'sign_up',
    status: 'PUBLISHED',
    categories: [],
    jsonVersion: '3.1',
    dataApiVersion: '3.0',
    previewUrl,
    ...(previewUrlExpiresAt === undefined ? {} : { previewUrlExpiresAt }),
    requestId: 'req',
  };
}

const at = (ms: number) => new Date(ms).toISOString();

describe('usablePreview', () => {
  it('parses an https link and its expiry once', () => {
    expect(usablePreview(flowWith('https://preview.example/a?x=1', at(NOW + 3_600_000)))).toEqual({
      url: 'https://preview.example/a?x=1',
      expiresAt: NOW + 3_600_000,
    });
  });

  it.each([
    ['empty', ''],
    ['plain http', 'http://preview.example/a'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,hi'],
    ['unparsable', 'https://'],
    ['not a URL', 'preview.example/a'],
    ['a space', 'https://preview.example/a b'],
    ['a line break', 'https://preview.example/a\r\nset-cookie: x'],
    ['longer than 4096 characters', `https://preview.example/${'a'.repeat(4096)}`],
  ])('refuses a link that is %s, whatever its expiry', (_name, url) => {
    expect(usablePreview(flowWith(url, at(NOW + 3_600_000)))).toBeUndefined();
  });

  it.each([
    ['missing', undefined],
    ['unparsable', 'next tuesday'],
  ])('keeps a link whose expiry is %s, with no known expiry', (_name, expiresAt) => {
    expect(usablePreview(flowWith('https://preview.example/a', expiresAt))).toEqual({
      url: 'https://preview.example/a',
      expiresAt: undefined,
    });
  });
});

describe('hasUsablePreview and previewExpiryOf', () => {
  const previewExpiringAt = (expiresAt?: string) =>
    usablePreview(flowWith('https://preview.example/a', expiresAt));

  it.each([
    // name, flow, usable for the status route (0), usable for a redirect, cache expiry when loaded at NOW
    [
      'no usable link',
      usablePreview(flowWith('http://preview.example/a')),
      true,
      true,
      Number.POSITIVE_INFINITY,
    ],
    ['a missing expiry', previewExpiringAt(undefined), true, false, NOW],
    ['an unparsable expiry', previewExpiringAt('soon'), true, false, NOW],
    ['an expired link', previewExpiringAt(at(NOW - 1)), false, false, NOW - 1],
    ['a link expiring now', previewExpiringAt(at(NOW)), false, false, NOW],
    [
      'a link within the minimum validity',
      previewExpiringAt(at(NOW + MIN_VALIDITY_MS - 1)),
      true,
      false,
      NOW + MIN_VALIDITY_MS - 1,
    ],
    [
      'a link valid exactly the minimum',
      previewExpiringAt(at(NOW + MIN_VALIDITY_MS)),
      true,
      true,
      NOW + MIN_VALIDITY_MS,
    ],
    ['a link valid for an hour', previewExpiringAt(at(NOW + 3_600_000)), true, true, NOW + 3_600_000],
  ] as const)('%s', (_name, preview, isUsableForStatus, isUsableForRedirect, cacheExpiry) => {
    expect(hasUsablePreview(preview, NOW, 0)).toBe(isUsableForStatus);
    expect(hasUsablePreview(preview, NOW, MIN_VALIDITY_MS)).toBe(isUsableForRedirect);
    expect(previewExpiryOf(preview, NOW)).toBe(cacheExpiry);
  });
});

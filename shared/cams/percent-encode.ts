import { stringify } from 'node:querystring';

/**
 * RFC 3986 percent-encoding as ACS3 canonicalisation requires: only `A-Za-z0-9-_.~` stay
 * literal. `encodeURIComponent` leaves `!'()*` alone, so those are encoded on top.
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The form body exactly as the official SDK writes it (`querystring.stringify`, keys in
 * insertion order). The body is signed by hash, so any encoding would verify; matching the
 * SDK keeps our requests indistinguishable from the ones CAMS is tested against.
 */
export function encodeForm(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([name, value]) => stringify({ [name]: value })).join('&');
}

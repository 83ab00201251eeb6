/**
 * undici — the CAMS client's and the webhook publisher's transport — loads on the first CAMS call
 * or webhook delivery, not at cold start: a watched flow's first answer needs only the state store,
 * whose client speaks node's own http. The build puts `undici-parts` into its own file beside
 * index.js (scripts/bundle-options.mjs, lazyPartsBeside); see README, "What was cut".
 */
export type UndiciParts = typeof import('./undici-parts');

let loading: Promise<UndiciParts> | undefined;

export function loadUndici(): Promise<UndiciParts> {
  loading ??= import('./undici-parts');
  return loading;
}

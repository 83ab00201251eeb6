/** Set by scripts/build.mjs (esbuild `define`); absent when the source runs unbundled (tests, tsx). */
declare const __BUILD_VERSION__: string | undefined;

/** What the bundle reports as its version: `<package version>+<git commit>` (scripts/build-version.mjs). */
export const BUILD_VERSION: string = typeof __BUILD_VERSION__ === 'string' ? __BUILD_VERSION__ : 'dev';

// How every function is bundled: the build and the cold-start benchmark share it, so the
// benchmark's SDK-based handler is bundled exactly like ours.
export const bundleOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
};

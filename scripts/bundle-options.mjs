// How every function is bundled: the build and the cold-start benchmark share it, so the
// benchmark's SDK-based handler is bundled exactly like ours.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  // FC documents v20.10.0 for its Node 20 and does not pin the built-in runtime's patch release.
  target: 'node20.10',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'error',
};

export const bundleOptions = { ...common, plugins: [sloppySdkBeside()] };

const SLOPPY_SDKS = { tablestore: './tablestore-sdk.js' };

/**
 * The `tablestore` SDK assigns undeclared loop variables (`for (key in …)`), which throws under
 * the "use strict" esbuild puts atop a bundle of ES modules. So it is bundled into its own
 * non-strict file beside the bundle's index.js, which requires it by relative path, and loads
 * only when a Tablestore store opens. The functions no longer use the SDK (they open our own
 * client, `shared/state/tablestore-client/`; a test checks no function folder gets the file):
 * only the benchmark's SDK-store handler, bundled with these same options, does.
 */
function sloppySdkBeside() {
  return {
    name: 'sloppy-sdk-beside',
    setup(context) {
      const outdir = context.initialOptions.outfile?.replace(/[/\\][^/\\]+$/, '');
      const wanted = new Set();
      context.onResolve({ filter: new RegExp(`^(${Object.keys(SLOPPY_SDKS).join('|')})$`) }, (args) => {
        wanted.add(args.path);
        return { path: SLOPPY_SDKS[args.path], external: true };
      });
      context.onEnd(async (result) => {
        if (result.errors.length > 0 || !outdir) return;
        for (const name of wanted) {
          await build({
            stdin: {
              contents: `module.exports = require(${JSON.stringify(name)});`,
              resolveDir: process.cwd(),
            },
            outfile: `${outdir}/${SLOPPY_SDKS[name].slice(2)}`,
            ...common,
          });
        }
      });
    },
  };
}

// How every function is bundled: the build and the cold-start benchmark share it, so the
// benchmark's SDK-based handler is bundled exactly like ours.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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

export const bundleOptions = { ...common, plugins: [sloppySdkBeside(), lazyPartsBeside()] };

/**
 * Modules the first answer of a cold instance does not need, by the name they are imported
 * under, and the file each becomes beside index.js. Only a dynamic `import()` of one splits it
 * out (a static import bundles it into index.js as usual): esbuild cannot split CommonJS output,
 * so the import becomes `require('./<file>')`, run when the import runs.
 */
const LAZY_PARTS = { 'undici-parts': 'undici.js' };

function lazyPartsBeside() {
  return {
    name: 'lazy-parts-beside',
    setup(context) {
      const outdir = outdirOf(context);
      const wanted = new Map();
      const names = Object.keys(LAZY_PARTS).join('|');
      context.onResolve({ filter: new RegExp(`(^|/)(${names})$`) }, (args) => {
        if (args.kind !== 'dynamic-import' || !outdir) return undefined;
        const file = LAZY_PARTS[args.path.split('/').at(-1)];
        const source = [`${join(args.resolveDir, args.path)}.ts`, join(args.resolveDir, args.path)].find(
          (candidate) => existsSync(candidate),
        );
        if (!source) return undefined;
        wanted.set(file, source);
        return { path: `./${file}`, external: true };
      });
      context.onEnd(async (result) => {
        if (result.errors.length > 0 || !outdir) return;
        for (const [file, source] of wanted) {
          await build({ entryPoints: [source], outfile: `${outdir}/${file}`, ...common });
        }
      });
    },
  };
}

/** The folder the bundle's index.js goes to: files split out of it go beside it. */
function outdirOf(context) {
  return context.initialOptions.outfile?.replace(/[/\\][^/\\]+$/, '');
}

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
      const outdir = outdirOf(context);
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

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

export const bundleOptions = {
  ...common,
  plugins: [sloppySdkBeside(), lazyPartsBeside(), dynamicBuiltinsRequired(), builtinsOnFirstUse()],
};

/**
 * Modules the first answer of a cold instance does not need, by the name they are imported
 * under, and the file each becomes beside index.js. Only a dynamic `import()` of one splits it
 * out (a static import bundles it into index.js as usual): esbuild cannot split CommonJS output,
 * so the import becomes `require('./<file>')`, run when the import runs (see requiredOnImport).
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
        return requiredOnImport(`./${file}`);
      });
      context.onEnd(async (result) => {
        if (result.errors.length > 0 || !outdir) return;
        for (const [file, source] of wanted) {
          await build({
            entryPoints: [source],
            outfile: `${outdir}/${file}`,
            ...common,
            plugins: [fallbacksBeside(outdir), modulesOnFirstCall()],
          });
        }
      });
    },
  };
}

/**
 * Files a lazy part requires only on a fallback path, by importer and the path it requires: they
 * go beside it instead of into it. undici compiles its HTTP parser from llhttp's SIMD build and
 * falls back to the plain build (72 KB more, the same again) only where WebAssembly SIMD is
 * unavailable or turned off (UNDICI_NO_WASM_SIMD=1).
 */
const FALLBACKS = [
  {
    importer: /[/\\]undici[/\\]lib[/\\]dispatcher[/\\]client-h1\.js$/,
    path: '../llhttp/llhttp-wasm.js',
    file: 'llhttp-wasm.js',
  },
];

function fallbacksBeside(outdir) {
  return {
    name: 'fallbacks-beside',
    setup(context) {
      const wanted = new Map();
      context.onResolve({ filter: /.*/ }, (args) => {
        const fallback = FALLBACKS.find(
          ({ importer, path }) => importer.test(args.importer) && args.path === path,
        );
        if (!fallback) return undefined;
        wanted.set(fallback.file, join(args.resolveDir, args.path));
        return { path: `./${fallback.file}`, external: true };
      });
      context.onEnd(async (result) => {
        if (result.errors.length > 0) return;
        for (const [file, source] of wanted) {
          await build({ entryPoints: [source], outfile: `${outdir}/${file}`, ...common });
        }
      });
    },
  };
}

/**
 * Left as it is, esbuild keeps a dynamic `import()` of anything outside the bundle (a lazy part,
 * a node module) as node's own `import()`, whose first use starts node's ES module loader and,
 * for a CommonJS file, lexes the whole file for its exports: ~30 ms more than `require` for
 * undici.js on a cold instance. So such an import resolves to a small module inside the bundle
 * that only requires the file. esbuild runs a dynamically imported module when the import runs,
 * so the file still loads then, not at cold start.
 */
const REQUIRED_ON_IMPORT = 'required-on-import';

function requiredOnImport(path) {
  return { path, namespace: REQUIRED_ON_IMPORT };
}

function dynamicBuiltinsRequired() {
  return {
    name: 'dynamic-builtins-required',
    setup(context) {
      context.onResolve({ filter: /^node:/ }, (args) =>
        args.kind === 'dynamic-import' ? requiredOnImport(args.path) : undefined,
      );
      context.onResolve({ filter: /.*/, namespace: REQUIRED_ON_IMPORT }, (args) => ({
        path: args.path,
        external: true,
      }));
      context.onLoad({ filter: /.*/, namespace: REQUIRED_ON_IMPORT }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
      }));
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

/**
 * Node modules a dependency imports at its top for a path FC never takes, by importer: middy's
 * core imports node's streams (web streams included) for AWS Lambda's response streaming, which
 * our handlers do not use; loading them costs a cold start ~1–2 ms. Each such import becomes a
 * module whose exports are getters that load the real one on first use, so behaviour is the
 * same if the path is ever taken.
 */
const BUILTINS_ON_FIRST_USE = [
  {
    importer: /[/\\]node_modules[/\\]@middy[/\\]core[/\\]/,
    modules: ['node:stream', 'node:stream/promises', 'node:stream/web'],
  },
];

function builtinsOnFirstUse() {
  const namespace = 'builtin-on-first-use';
  return {
    name: namespace,
    setup(context) {
      context.onResolve({ filter: /^node:/ }, (args) => {
        const wanted = BUILTINS_ON_FIRST_USE.some(
          ({ importer, modules }) => importer.test(args.importer) && modules.includes(args.path),
        );
        return wanted ? { path: args.path, namespace } : undefined;
      });
      context.onLoad({ filter: /.*/, namespace }, async (args) => {
        const names = Object.keys(await import(args.path)).filter((name) => name !== 'default');
        const id = JSON.stringify(args.path);
        return {
          loader: 'js',
          contents: [
            'let loaded;',
            `const load = () => (loaded ??= require(${id}));`,
            `for (const name of ${JSON.stringify(names)}) {`,
            '  Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });',
            '}',
          ].join('\n'),
        };
      });
    },
  };
}

/**
 * Modules a dependency requires at its top but calls only on a path we never take, by importer
 * and the path it requires: the module is still bundled, but runs (and loads what it requires)
 * on its first call instead of when the importer loads. undici's Client requires its HTTP/2
 * half, which loads node's http2 and tls (~5 ms of undici.js's ~16 ms), and calls it only for a
 * connection that negotiated h2; our Agents never allow h2 (`allowH2` is off by default).
 */
const MODULES_ON_FIRST_CALL = [
  { importer: /[/\\]undici[/\\]lib[/\\]dispatcher[/\\]client\.js$/, path: './client-h2.js' },
];

function modulesOnFirstCall() {
  const namespace = 'module-on-first-call';
  return {
    name: namespace,
    setup(context) {
      context.onResolve({ filter: /.*/ }, (args) => {
        const wanted = MODULES_ON_FIRST_CALL.some(
          ({ importer, path }) => importer.test(args.importer) && args.path === path,
        );
        return wanted
          ? { path: args.path, namespace, pluginData: { resolveDir: args.resolveDir } }
          : undefined;
      });
      context.onLoad({ filter: /.*/, namespace }, (args) => ({
        loader: 'js',
        resolveDir: args.pluginData.resolveDir,
        contents: [
          `module.exports = function (...args) {`,
          `  return require(${JSON.stringify(args.path)}).apply(this, args);`,
          '};',
        ].join('\n'),
      }));
    },
  };
}

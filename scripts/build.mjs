// Bundles each function into one self-contained CommonJS file, as FC's nodejs20 runtime loads it
// (`handler: index.handler` from the function's code folder, no node_modules beside it).
// `--keep-going` builds every function it can and reports the others (the test setup uses it, so
// one broken function fails its own tests rather than every test).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { buildVersion } from './build-version.mjs';
import { bundleOptions } from './bundle-options.mjs';

const keepGoing = process.argv.includes('--keep-going');
const functions = (existsSync('functions') ? readdirSync('functions', { withFileTypes: true }) : [])
  .filter((entry) => entry.isDirectory() && existsSync(`functions/${entry.name}/index.ts`))
  .map((entry) => entry.name);

// A short string constant in place of __BUILD_VERSION__ (shared/build-version.ts): nothing to read at cold start.
const version = buildVersion(process.cwd());
const results = await Promise.allSettled(
  functions.map((name) => {
    // A file an earlier build put beside index.js (a split-out SDK) must not be deployed stale.
    rmSync(`dist/${name}`, { recursive: true, force: true });
    return build({
      entryPoints: [`functions/${name}/index.ts`],
      outfile: `dist/${name}/index.js`,
      ...bundleOptions,
      define: { __BUILD_VERSION__: JSON.stringify(version) },
    }).then(() => `dist/${name}/index.js`);
  }),
);
const built = results.filter((result) => result.status === 'fulfilled').map((result) => result.value);
const failed = functions.filter((_, index) => results[index]?.status === 'rejected');
console.log(
  `built ${built.join(', ') || 'nothing'} as version ${version}${version.endsWith('+unknown') ? ' (no git here: the revision is unknown)' : ''}${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`,
);
if (failed.length && !keepGoing) process.exit(1);

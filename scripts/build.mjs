// Bundles each function into one self-contained CommonJS file, as FC's nodejs20 runtime loads it
// (`handler: index.handler` from the function's code folder, no node_modules beside it).
import { existsSync, readdirSync } from 'node:fs';
import { build } from 'esbuild';

const functions = readdirSync('functions', { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(`functions/${entry.name}/index.ts`))
  .map((entry) => entry.name);

await Promise.all(
  functions.map((name) =>
    build({
      entryPoints: [`functions/${name}/index.ts`],
      outfile: `dist/${name}/index.js`,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      metafile: false,
      logLevel: 'warning',
    }),
  ),
);
console.log(`built ${functions.map((name) => `dist/${name}/index.js`).join(', ')}`);

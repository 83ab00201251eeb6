import { build } from 'esbuild';
import { bundleOptions } from '../../scripts/bundle-options.mjs';
import { repoRoot } from './render-s-yaml';

/** Set by Function Compute itself (FC_REGION, FC_FUNCTION_NAME…; the role's ALIBABA_CLOUD_* keys). */
export const RUNTIME_PROVIDED = /^(FC_|ALIBABA_CLOUD_)/;

// `env.NAME`, `env?.NAME`, `env['NAME']` (process.env included), and keys of zod environment schemas
// (`NAME: z.string()…` or zod/mini's `NAME: z._default(…)`, which the bundle spells `NAME: <alias>.string(…` or, for zod/mini's free functions, `NAME: _default2(…`).
const ENV_READ =
  /\benv\??\.([A-Z][A-Z0-9_]*)\b|\benv\[\s*["'`]([A-Z][A-Z0-9_]*)["'`]\s*\]|\b([A-Z][A-Z0-9_]*):\s*(?:[\w$]+\.)?(?:coerce(?:_exports)?\.)?(?:string|number|boolean|enum|literal|union|array|url|preprocess|stringbool|_default|optional|pipe)\d*\(/g;
/** esbuild marks each module in an unminified bundle with a `// <path>` line. */
const MODULE_MARK = /^\/\/ (\S+\.(?:[cm]?[jt]s|json))$/;

/**
 * The environment variable names a function's code reads, derived from its bundle as esbuild
 * builds it (tree-shaken, so a helper the function never calls does not count), over our own
 * modules only: dependencies' variables (undici's, zod's) are not ours to set.
 */
export async function envReadsOf(functionName: string): Promise<string[]> {
  const result = await build({
    ...bundleOptions,
    entryPoints: [`${repoRoot}/functions/${functionName}/index.ts`],
    absWorkingDir: repoRoot,
    minify: false,
    write: false,
  });
  const ownLines: string[] = [];
  let module = '';
  for (const line of result.outputFiles[0]?.text.split('\n') ?? []) {
    const mark = MODULE_MARK.exec(line);
    if (mark?.[1]) module = mark[1];
    else if (module && !module.startsWith('node_modules/')) ownLines.push(line);
  }
  const names = new Set<string>();
  for (const match of ownLines.join('\n').matchAll(ENV_READ)) {
    const name = match[1] ?? match[2] ?? match[3];
    if (name) names.add(name);
  }
  return [...names].sort();
}

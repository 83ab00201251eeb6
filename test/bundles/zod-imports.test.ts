import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(__dirname, '../..');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

// One import of zod's full build (every locale and method, ~445 KB minified) puts all of it in
// the function's bundle, loaded on every cold start; zod/mini with shared/zod-english.ts gives
// the same messages at a fraction of the size.
describe('bundled source', () => {
  it('imports zod only as zod/mini (or its English locale), never the full build', () => {
    const fullZod =
      /(?:from\s*|import\s*\(\s*|require\s*\(\s*|import\s+)['"]zod(?:\/v4)?(?:\/index(?:\.js)?)?['"]/;
    const offenders = ['functions', 'shared']
      .flatMap((folder) => sourceFiles(join(repoRoot, folder)))
      .filter((file) => fullZod.test(readFileSync(file, 'utf8')))
      .map((file) => relative(repoRoot, file));
    expect(offenders).toEqual([]);
  });
});

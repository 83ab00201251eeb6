import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json';
import { buildVersion, gitRevision } from '../../scripts/build-version.mjs';
import { repoRoot } from './render-s-yaml';

describe('build version (package version + git commit)', () => {
  it('is the package version and this checkout’s commit (`unknown` where the tests run without git)', () => {
    // `npm test` must pass in an unpacked tarball too, where there is no commit to compare with.
    const commit = gitRevision(repoRoot)?.replace(/\.dirty$/, '') ?? 'unknown';
    expect(buildVersion(repoRoot)).toMatch(
      new RegExp(`^${packageJson.version.replace(/\./g, '\\.')}\\+${commit}(\\.dirty)?$`),
    );
  });

  it('is baked into each bundle as a string constant, package.json left out', () => {
    for (const name of ['http', 'poller']) {
      const bundle = readFileSync(join(repoRoot, 'dist', name, 'index.js'), 'utf8');
      expect(bundle).toContain(JSON.stringify(buildVersion(repoRoot)));
      expect(bundle).not.toContain(packageJson.description);
    }
  });

  it('builds without git (an unpacked tarball) and says the revision is unknown', () => {
    const unpacked = mkdtempSync(join(tmpdir(), 'cfw-tarball-'));
    expect(gitRevision(unpacked)).toBeUndefined();
    for (const file of ['package.json', 'tsconfig.json'])
      copyFileSync(join(repoRoot, file), join(unpacked, file));
    for (const folder of ['functions', 'shared', 'scripts', 'node_modules']) {
      symlinkSync(join(repoRoot, folder), join(unpacked, folder));
    }
    mkdirSync(join(unpacked, 'dist'));
    writeFileSync(join(unpacked, 'dist', '.keep'), '');
    const output = execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: unpacked, encoding: 'utf8' });
    expect(output).toContain(
      `as version ${packageJson.version}+unknown (no git here: the revision is unknown)`,
    );
    expect(readFileSync(join(unpacked, 'dist/http/index.js'), 'utf8')).toContain(
      `"${packageJson.version}+unknown"`,
    );
  }, 120_000);
});

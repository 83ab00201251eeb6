// The version a build reports (/healthz, the poller's cold-start line and dry run): package.json's
// version, which does not change between commits, plus the git commit as semver build metadata,
// so the smoke check can tell the code it deployed from older code. Without git (an unpacked
// tarball) the build still works and says so: `<version>+unknown`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function git(args, cwd) {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/** `git rev-parse --short=12 HEAD`, `.dirty` after it when tracked files differ; undefined without git. */
export function gitRevision(cwd) {
  try {
    const commit = git(['rev-parse', '--short=12', 'HEAD'], cwd);
    if (!/^[0-9a-f]{7,40}$/.test(commit)) return undefined;
    // Code that is not the commit's must not pass for it.
    const isDirty = git(['status', '--porcelain', '--untracked-files=no'], cwd) !== '';
    return isDirty ? `${commit}.dirty` : commit;
  } catch {
    return undefined;
  }
}

/** `0.1.0+1a2b3c4d5e6f`, or `0.1.0+unknown` where git or the checkout is missing. */
export function buildVersion(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return `${version}+${gitRevision(root) ?? 'unknown'}`;
}

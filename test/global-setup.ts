import { execFileSync } from 'node:child_process';

// Tests of the functions load the built bundles exactly as FC does, so build them once before any test runs.
export default function buildBundlesOnce(): void {
  execFileSync(process.execPath, ['scripts/build.mjs', '--keep-going'], { stdio: 'inherit' });
}

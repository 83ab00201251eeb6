import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Writes `source` as `<temp>/<functionName>/index.js`, a bundle the FC emulator loads like a
 * built one, and returns its path.
 */
export function writeTestBundle(source: string, functionName = 'test-function'): string {
  const directory = join(mkdtempSync(join(tmpdir(), 'cfw-bundle-')), functionName);
  mkdirSync(directory);
  const path = join(directory, 'index.js');
  writeFileSync(path, source);
  return path;
}

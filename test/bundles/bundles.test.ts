import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../../package.json';
import { bundleOptions } from '../../scripts/bundle-options.mjs';

const repoRoot = resolve(__dirname, '../..');

// The same suite `.ci/run` runs under Node 20.10.0, here under the Node of `npm test`, so it
// cannot rot on a machine without that binary.
describe('built-bundle suite (test/bundles/bundles.node-test.ts)', () => {
  it(`passes under node:test on this Node (${process.version})`, () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/bundles/bundles.node-test.ts'],
      { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 },
    );
    const summary = /^# pass (\d+)\n# fail (\d+)/m.exec(run.stdout);
    expect({ status: run.status, failed: summary?.[2] }, run.stdout + run.stderr).toEqual({
      status: 0,
      failed: '0',
    });
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(5);
  });
});

describe('Node 20.10 support', () => {
  it('engines and the esbuild target both name Node 20.10, the Node 20 FC documents', () => {
    expect(packageJson.engines.node).toBe('>=20.10');
    expect(bundleOptions.target).toBe('node20.10');
  });
});

// A cold instance pays for every module it loads before its first answer; these guard what the
// cold-start bench measured (README, "Cold start"), without timing anything.
describe('what a cold instance loads', () => {
  const bundle = (name: string) => join(repoRoot, 'dist', name, 'index.js');

  it("leaves no native import() in a bundle: lazy parts and node's modules load by require", () => {
    // node's import() of a CommonJS file starts the ES module loader and lexes the whole file.
    for (const name of ['http', 'poller']) {
      expect(readFileSync(bundle(name), 'utf8'), name).not.toMatch(/\bimport\(/);
    }
  });

  /** node's modules that loading `file` loads. */
  const modulesLoadedBy = (file: string): string[] => {
    const run = spawnSync(
      process.execPath,
      [
        '-e',
        `const before = new Set(process.moduleLoadList);
        require(process.argv[1]);
        console.log(JSON.stringify(process.moduleLoadList.filter((name) => !before.has(name))));`,
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };

  it("loads none of node's modules the first answer does not use when the HTTP bundle loads", () => {
    const loaded = modulesLoadedBy(bundle('http'));
    // The file store, middy's response streaming, TLS for an https Tablestore endpoint.
    for (const unused of ['fs/promises', 'os', 'stream/web', 'https', 'tls']) {
      expect(loaded).not.toContain(`NativeModule ${unused}`);
    }
  });

  it("loads neither http2 nor tls with undici.js: undici's HTTP/2 half runs on its first call", () => {
    for (const name of ['http', 'poller']) {
      const loaded = modulesLoadedBy(join(repoRoot, 'dist', name, 'undici.js'));
      expect(loaded, name).toContain('NativeModule http');
      expect(loaded, name).not.toContain('NativeModule http2');
      expect(loaded, name).not.toContain('NativeModule tls');
    }
  });
});

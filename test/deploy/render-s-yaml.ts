import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../..');
const S_CLI = join(repoRoot, 'node_modules/@serverless-devs/s/bin/s');

export interface Resource {
  component: string;
  props: Record<string, unknown> & { environmentVariables?: Record<string, string> };
}
export interface RenderedProject {
  edition: string;
  vars: Record<string, unknown>;
  resources: Record<string, Resource>;
}

/**
 * Renders a template exactly as `s deploy` would, with the lockfile-pinned Serverless Devs CLI
 * (`s preview -o json`, offline): its own `${env()}`, `${json()}`, `${vars.…}` and `extend` rules,
 * not a re-implementation. Only `env` reaches it (plus PATH), and a throwaway HOME keeps its
 * config and logs out of the user's. Throws with `s`'s own message when rendering fails.
 */
export function renderSYaml(env: Record<string, string>, template = 's.yaml'): RenderedProject {
  const home = mkdtempSync(join(tmpdir(), 'cfw-s-home-'));
  quietHome(home);
  try {
    const output = execFileSync(process.execPath, [S_CLI, 'preview', '-o', 'json', '-t', template], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: home, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    const start = output.indexOf('{');
    if (start < 0) throw new Error(`s preview printed no project:\n${output}`);
    return JSON.parse(output.slice(start)) as RenderedProject;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    if (stdout === undefined && stderr === undefined) throw error;
    throw new Error(`s preview -t ${template} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  } finally {
    // Should a daemon still start (a newer `s` with other rules), it may be writing here.
    rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/**
 * Left alone, `s` spawns detached daemons (`update-cli.js` when its update check is due,
 * `report.js` to send usage analytics over the network) that outlive the command and write into
 * its home: removing the home then raced them (ENOTEMPTY), and tests must not reach the network.
 * A fresh update check and `analysis: disable` are the two settings that keep them from starting.
 */
function quietHome(home: string): void {
  mkdirSync(join(home, '.s', 'config'), { recursive: true });
  writeFileSync(
    join(home, '.s', 'config', 'update-notifier.json'),
    JSON.stringify({ lastUpdateCheck: Date.now() }),
  );
  writeFileSync(join(home, '.s', 'set-config.yml'), 'analysis: disable\n');
}

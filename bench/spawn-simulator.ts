import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SimFlow } from '../local/cams-simulator';

/** Starts bench/simulator-process.ts and resolves with its endpoint and a stop function. */
export async function spawnSimulator(flows: SimFlow[], rateLimit: number | 'off') {
  // Flows go through a file: thousands of them exceed what a command line may carry.
  const directory = mkdtempSync(join(tmpdir(), 'cfw-bench-sim-'));
  const flowsFile = join(directory, 'flows.json');
  writeFileSync(flowsFile, JSON.stringify(flows));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/simulator-process.ts', flowsFile, String(rateLimit)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const endpoint = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`simulator process exited with ${code}`)));
  });
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => {
          rmSync(directory, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

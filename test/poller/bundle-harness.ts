import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { SIMULATOR_CREDENTIALS } from '../../local/cams-simulator';
import { fcContext, fcTimerEvent, loadBundle } from '../../local/fc-emulator';
import { FileStateStore } from '../../shared/state/file-store';

export const POLLER_BUNDLE = join(__dirname, '../../dist/poller/index.js');
export const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

export type Summary = Record<string, unknown> & { error?: { code: string; message: string } };

export function freshStateDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'cfw-hostile-'));
}

/** The state a run left, read with the store itself. */
export function stateAt(directory: string): FileStateStore {
  return new FileStateStore(directory);
}

/**
 * A cold start of the built poller bundle, as FC loads it, with `env` as its configuration.
 * Each call is a new instance (its own module state), so two of them are two FC instances.
 */
export function pollerInstance(env: Record<string, string>) {
  const lines: string[] = [];
  const saved = { ...process.env };
  process.env = {
    ...saved,
    ALIBABA_CLOUD_ACCESS_KEY_ID: '',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: '',
    ALIBABA_CLOUD_SECURITY_TOKEN: '',
    ...env,
  };
  const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  const { handler } = loadBundle(POLLER_BUNDLE, { fresh: true });
  process.env = saved;
  return {
    handler,
    lines,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    // The handler keeps the environment object it was loaded with, as on FC.
    run: async (timeoutSeconds = 10): Promise<Summary> =>
      (await handler(
        fcTimerEvent(),
        fcContext({ credentials: SIMULATOR_CREDENTIALS, timeoutSeconds }),
      )) as Summary,
    restore: () => spy.mockRestore(),
  };
}

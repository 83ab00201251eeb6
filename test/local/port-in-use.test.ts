import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { FcFunction, serveFcHttp } from '../../local/fc-emulator';
import { startWebhookReceiver } from '../../local/webhook-receiver';

const repoRoot = join(__dirname, '../..');
let taken: Server;
let takenPort: number;

beforeAll(async () => {
  // A real listener on loopback, as another program holding the port would be.
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => taken.close(() => resolve()));
});

describe('a port already taken on loopback', () => {
  it.each([
    [
      'the FC HTTP trigger',
      () =>
        serveFcHttp(new FcFunction({ bundle: join(repoRoot, 'dist/http/index.js'), env: {} }), {
          port: takenPort,
          credentials: SIMULATOR_CREDENTIALS,
        }),
    ],
    ['the webhook receiver', () => startWebhookReceiver({ secret: 'whsec_dGVzdA==', port: takenPort })],
    ['the CAMS simulator', () => startCamsSimulator({ port: takenPort })],
  ])('makes %s reject with EADDRINUSE instead of crashing the process', async (_name, start) => {
    await expect(start()).rejects.toMatchObject({ code: 'EADDRINUSE', port: takenPort });
  });

  it('makes npm start name PORT and exit 1, without a stack trace', async () => {
    // A scratch directory: npm start keeps its tokens and state in ./.local.
    const cwd = mkdtempSync(join(tmpdir(), 'cfw-start-'));
    const tsx = pathToFileURL(require.resolve('tsx')).href;
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', tsx, join(repoRoot, 'local/start.ts')],
        // Nothing of this shell's environment that could point it at real services.
        { cwd, env: { PATH: process.env.PATH ?? '', PORT: String(takenPort) }, timeout: 60_000 },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(run.stderr).toBe(
      `npm start failed: port ${takenPort} on 127.0.0.1 is in use: set PORT to a free port (PORT=${takenPort + 1} npm start) or stop what uses it\n`,
    );
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('is running locally');
  }, 90_000);
});

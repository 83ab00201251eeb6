import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartOf, StartLockedError, takeStartLock } from '../../local/start-lock';

const repoRoot = join(__dirname, '../..');
const tsx = pathToFileURL(require.resolve('tsx')).href;
/** Above pid_max on common hosts: never a running process. */
const DEAD_PID = 2 ** 22 + 12_345;
const started: ChildProcess[] = [];
const scratch: string[] = [];

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

function scratchDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(directory);
  return directory;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A checkout of its own: npm start keeps tokens, state and its lock in ./.local and runs ./dist. */
function scratchCheckout(): string {
  const cwd = scratchDirectory('cfw-start-');
  symlinkSync(join(repoRoot, 'dist'), join(cwd, 'dist'));
  return cwd;
}

/** Nothing of this shell's environment that could point npm start at real services. */
const startEnv = (port: number) => ({ PATH: process.env.PATH ?? '', PORT: String(port) });

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

describe('a second npm start in the same checkout', () => {
  it("refuses before touching anything, naming the running one's pid and port, and the running one keeps its state", async () => {
    const cwd = scratchCheckout();
    const firstPort = await freePort();
    const first = spawn(process.execPath, ['--import', tsx, join(repoRoot, 'local/start.ts')], {
      cwd,
      env: startEnv(firstPort),
    });
    started.push(first);
    let firstOutput = '';
    first.stdout.on('data', (chunk: Buffer) => {
      firstOutput += chunk.toString();
    });
    first.stderr.on('data', (chunk: Buffer) => {
      firstOutput += chunk.toString();
    });
    const stateDirectory = join(cwd, '.local/state-simulator');
    await waitFor(() => firstOutput.includes('Ctrl-C stops'), 'the first start');
    await waitFor(
      () => existsSync(stateDirectory) && readdirSync(stateDirectory).some((name) => name.endsWith('.json')),
      "the first start's poller to record state",
    );
    const stateBefore = readdirSync(stateDirectory).filter((name) => name.endsWith('.json'));

    // The README's advice for a taken port: another PORT. In the same checkout it must still refuse,
    // and before building (as `npm start` asks with --build): the build replaces the dist/ the first
    // one's emulator loads for each new instance.
    const secondPort = await freePort();
    const second = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', tsx, join(repoRoot, 'local/start.ts'), '--build'],
        { cwd, env: startEnv(secondPort), timeout: 60_000 },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });

    expect(second.code).toBe(1);
    expect(second.stdout).not.toContain('is running locally');
    expect(second.stderr).toContain(
      `npm start failed: another npm start is running in this checkout (pid ${first.pid}, http://127.0.0.1:${firstPort})`,
    );
    expect(second.stderr).toContain(`If pid ${first.pid} is no npm start of this checkout, delete`);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    const stateAfter = readdirSync(stateDirectory).filter((name) => name.endsWith('.json'));
    expect(stateAfter).toEqual(expect.arrayContaining(stateBefore));
    const token = readFileSync(join(cwd, '.local/api-token'), 'utf8').trim();
    const overview = await fetch(`http://127.0.0.1:${firstPort}/overview`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(overview.status).toBe(200);

    first.kill('SIGINT');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(existsSync(join(cwd, '.local/start.lock'))).toBe(false);
  }, 120_000);
});

describe('the start lock', () => {
  it('takes over a lock left by a start that has ended (kill -9, a crash) and removes its own on release', async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    const lockPath = join(directory, 'start.lock');
    writeFileSync(lockPath, JSON.stringify({ pid: DEAD_PID, host: hostname(), port: 9000 }));
    const lock = await takeStartLock(directory, 9001);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toEqual({
      pid: process.pid,
      host: hostname(),
      port: 9001,
      started: processStartOf(process.pid),
    });
    lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('takes over a lock whose pid now belongs to another process (a crash, then a restart of the machine)', async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    const lockPath = join(directory, 'start.lock');
    // The parent process is alive, but it is not the process that wrote this lock.
    writeFileSync(
      lockPath,
      JSON.stringify({ pid: process.ppid, host: hostname(), port: 9000, started: 'an earlier boot:1' }),
    );
    expect(processStartOf(process.ppid)).toBeDefined();
    const lock = await takeStartLock(directory, 9001);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, port: 9001 });
    lock.release();
  });

  it('refuses a lock whose process is the one that wrote it', async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    writeFileSync(
      join(directory, 'start.lock'),
      JSON.stringify({
        pid: process.ppid,
        host: hostname(),
        port: 9000,
        started: processStartOf(process.ppid),
      }),
    );
    const refusal = await takeStartLock(directory, 9001).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(StartLockedError);
    expect((refusal as Error).message).toContain(`pid ${process.ppid}, http://127.0.0.1:9000`);
  });

  it('takes over a lock it cannot read (cut short by a full disk)', async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    writeFileSync(join(directory, 'start.lock'), '{"pid":');
    const lock = await takeStartLock(directory, 9001);
    lock.release();
  });

  it('refuses a lock held on another host sharing this folder, which it cannot ask', async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    writeFileSync(
      join(directory, 'start.lock'),
      JSON.stringify({ pid: DEAD_PID, host: `not-${hostname()}`, port: 9000 }),
    );
    const refusal = await takeStartLock(directory, 9001).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(StartLockedError);
    expect((refusal as Error).message).toContain(`pid ${DEAD_PID} on not-${hostname()}`);
  });

  it("leaves another start's lock alone on release", async () => {
    const directory = scratchDirectory('cfw-start-lock-');
    const lockPath = join(directory, 'start.lock');
    const lock = await takeStartLock(directory, 9001);
    const other = JSON.stringify({ pid: DEAD_PID, host: hostname(), port: 9002 });
    writeFileSync(lockPath, other);
    lock.release();
    expect(readFileSync(lockPath, 'utf8')).toBe(other);
  });
});

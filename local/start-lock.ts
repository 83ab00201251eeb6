/**
 * One `npm start` per checkout: a second one would wipe the first one's simulator state at its
 * start, then run a second poller on the same state folder against its own simulator, announcing
 * the same changes again under new ids. The lock is taken before anything in `.local/` is touched.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from '../shared/state/file-lock';

const LOCK_FILE = 'start.lock';
/** Two starts taking over one stale lock at once: the guard lets one decide at a time. */
const GUARD_WAIT_MS = 5_000;

interface StartOwner {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
}

function ownerOf(text: string): StartOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<StartOwner> | null;
    if (
      Number.isSafeInteger(owner?.pid) &&
      typeof owner?.host === 'string' &&
      Number.isSafeInteger(owner.port)
    ) {
      return owner as StartOwner;
    }
  } catch {}
  return undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A start still holding the checkout: alive on this host, or on another host we cannot ask. */
function isLive(owner: StartOwner): boolean {
  if (owner.host !== hostname()) return true;
  return owner.pid !== process.pid && isRunning(owner.pid);
}

export class StartLockedError extends Error {
  override readonly name = 'StartLockedError';
  readonly code = 'StartLocked';
  readonly owner: StartOwner;

  constructor(lockPath: string, owner: StartOwner) {
    const where = owner.host === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`;
    super(
      `another npm start is running in this checkout (${where}, http://127.0.0.1:${owner.port}): use that one, or stop it (Ctrl-C in its terminal, or kill ${owner.pid}) and start again; two in one checkout would share .local/ state. A second one needs its own checkout (if no npm start runs here, delete ${lockPath})`,
    );
    this.owner = owner;
  }
}

export interface StartLock {
  /** Removes the lock if it is still this process's. Synchronous, so it can run on 'exit'. */
  release(): void;
}

/**
 * Takes `<directory>/start.lock` for this process's life, or throws StartLockedError naming the
 * live holder. A lock left by a process that has ended (a crash, kill -9) is taken over.
 */
export async function takeStartLock(directory: string, port: number): Promise<StartLock> {
  const lockPath = join(directory, LOCK_FILE);
  const content = JSON.stringify({ pid: process.pid, host: hostname(), port });
  await withFileLock(join(directory, `${LOCK_FILE}.guard`), GUARD_WAIT_MS, async () => {
    let text: string | undefined;
    try {
      text = readFileSync(lockPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const owner = text === undefined ? undefined : ownerOf(text);
    if (owner && isLive(owner)) throw new StartLockedError(lockPath, owner);
    writeFileSync(lockPath, content);
  });
  return {
    release() {
      try {
        if (readFileSync(lockPath, 'utf8') === content) rmSync(lockPath, { force: true });
      } catch {}
    },
  };
}

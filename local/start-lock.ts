/**
 * One `npm start` per checkout: a second one would wipe the first one's simulator state at its
 * start, then run a second poller on the same state folder against its own simulator, announcing
 * the same changes again under new ids. The lock is taken before anything in `.local/` is touched.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isProcessGone, withFileLock } from '../shared/state/file-lock';

const LOCK_FILE = 'start.lock';
/** Two starts taking over one stale lock at once: the guard lets one decide at a time. */
const GUARD_WAIT_MS = 5_000;

interface StartOwner {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /**
   * When the process with that pid started, as the OS tells it (see processStartOf): after a
   * crash and a restart of the machine or container, the pid may belong to anything else.
   */
  readonly started?: string | undefined;
}

/**
 * An identity of the process's start, or undefined where the OS does not tell: Linux's boot id
 * and the start time in /proc/<pid>/stat (field 22, after the command name, which may hold spaces
 * and parentheses), elsewhere `ps -o lstart=`.
 */
export function processStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // Fields after the command start at field 3 (state): field 22 is at index 19.
    const startTicks = fields[19];
    if (startTicks && /^\d+$/.test(startTicks)) return `${bootId}:${startTicks}`;
  } catch {}
  const ps = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 });
  const started = ps.status === 0 ? ps.stdout.trim() : '';
  return started === '' ? undefined : started;
}

function ownerOf(text: string): StartOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<StartOwner> | null;
    if (
      Number.isSafeInteger(owner?.pid) &&
      typeof owner?.host === 'string' &&
      Number.isSafeInteger(owner.port) &&
      (owner.started === undefined || typeof owner.started === 'string')
    ) {
      return owner as StartOwner;
    }
  } catch {}
  return undefined;
}

/**
 * A start still holding the checkout: its process alive on this host — the same process, not a
 * later one given its pid — or on another host we cannot ask.
 */
function isLive(owner: StartOwner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid || isProcessGone(owner.pid)) return false;
  const started = owner.started === undefined ? undefined : processStartOf(owner.pid);
  return started === undefined || started === owner.started;
}

export class StartLockedError extends Error {
  override readonly name = 'StartLockedError';
  readonly code = 'StartLocked';
  readonly owner: StartOwner;

  constructor(lockPath: string, owner: StartOwner) {
    const where = owner.host === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`;
    super(
      `another npm start is running in this checkout (${where}, http://127.0.0.1:${owner.port}): use that one, or stop it (Ctrl-C in its terminal) and start again; two in one checkout would share .local/ state. A second one needs its own checkout. If pid ${owner.pid} is no npm start of this checkout, delete ${lockPath}`,
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
  const content = JSON.stringify({
    pid: process.pid,
    host: hostname(),
    port,
    started: processStartOf(process.pid),
  });
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

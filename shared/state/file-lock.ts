import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, link, open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { StateStoreError } from './errors';

/**
 * A holder refreshes its lock's modification time this often while it holds it, so a lock
 * that stops being refreshed tells of a holder that is gone, whatever kind of owner it was.
 */
const LOCK_REFRESH_MS = 1_000;
/**
 * Not refreshed for this long: the holder is gone (or frozen so long that it has to be treated
 * as gone). The only rule for owners nothing else can tell about: another thread of this process
 * (a terminated FC emulator Worker shares the live process's pid) or another host.
 */
export const LOCK_STALE_MS = 5_000;
/** A stale lock whose breaking claim is itself left stale by a crash: claims of claims, this deep. */
const MAX_CLAIM_DEPTH = 3;

/**
 * The nonces of the locks this thread holds or is taking, shared by every store in this thread —
 * and by every copy of this module in it (a bundle loaded afresh per simulated FC instance, as the
 * poller's tests do): on globalThis under a registered symbol, since a per-copy set would make one
 * copy judge another copy's live lock stale and break it at once.
 */
const HELD_BY_THIS_THREAD = Symbol.for('cams-flow-watch.file-locks-held');
const threadRegistry = globalThis as Record<symbol, Set<string> | undefined>;
const heldByThisThread: Set<string> = threadRegistry[HELD_BY_THIS_THREAD] ?? new Set<string>();
threadRegistry[HELD_BY_THIS_THREAD] = heldByThisThread;

interface LockOwner {
  readonly nonce: string;
  readonly host: string;
  readonly pid: number;
  readonly thread: number;
}

interface ObservedLock {
  /** The lock file's bytes: a fresh random nonce makes them unique to one taking of the lock. */
  readonly content: string;
  readonly mtimeMs: number;
}

function ownerOf(content: string): LockOwner | undefined {
  // Left by a version before owner tokens, which wrote `<host> <pid>`: judged by its process.
  const legacy = /^(\S+) (\d+)$/.exec(content);
  if (legacy) return { nonce: content, host: legacy[1] ?? '', pid: Number(legacy[2]), thread: -1 };
  try {
    const owner = JSON.parse(content) as Partial<LockOwner> | null;
    if (
      typeof owner?.nonce === 'string' &&
      typeof owner.host === 'string' &&
      Number.isSafeInteger(owner.pid) &&
      Number.isSafeInteger(owner.thread)
    ) {
      return owner as LockOwner;
    }
  } catch {}
  return undefined;
}

/** Whether no process with `pid` runs on this host (one of another user's still counts as running). */
export function isProcessGone(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Stale: its owner is known gone (this thread no longer holds it, or its process on this host
 * has ended), or it has not been refreshed for LOCK_STALE_MS.
 */
function isStale(lock: ObservedLock): boolean {
  const owner = ownerOf(lock.content);
  const isThisHost = owner?.host === hostname();
  if (isThisHost && owner.pid === process.pid && owner.thread === threadId) {
    return !heldByThisThread.has(owner.nonce);
  }
  if (Date.now() - lock.mtimeMs > LOCK_STALE_MS) return true;
  return isThisHost && owner.pid !== process.pid && isProcessGone(owner.pid);
}

/** Content and age read from one and the same file, never from a lock and its successor. */
async function observe(lockPath: string): Promise<ObservedLock | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(lockPath, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw lockFailure(error);
  }
  try {
    const [info, content] = await Promise.all([handle.stat(), handle.readFile('utf8')]);
    return { content, mtimeMs: info.mtimeMs };
  } finally {
    await handle.close();
  }
}

async function contentOf(lockPath: string): Promise<string | undefined> {
  return readFile(lockPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw lockFailure(error);
  });
}

async function unlinkIfPresent(path: string): Promise<void> {
  await unlink(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw lockFailure(error);
  });
}

function lockFailure(error: unknown): StateStoreError {
  return new StateStoreError('StateUnavailable', `cannot lock state: ${(error as Error).message}`, {
    retryable: true,
    cause: error,
  });
}

/**
 * Removes the lock at `lockPath` if it is stale; true when the caller should try to take it
 * again at once.
 *
 * Judging a lock stale and removing it are two steps, and between them the stale lock may have
 * been broken by another waiter and the key taken by a live writer: removing "the lock file"
 * then would remove the live one, and two writers would run a compare-and-set at once. So the
 * removal of one particular lock (known by its unique content) is itself guarded: only the
 * waiter that creates that lock's claim file (`<lock>.<digest of its content>`, exclusive
 * create) may remove it, and only after re-reading that the lock file still holds that content.
 * While the claim exists nobody else can remove that lock, and a new lock can only appear after
 * it is gone, so the re-read and the removal see the same file. A waiter arriving after the
 * claim is gone re-reads other content and leaves the live lock alone. A claim left by a waiter
 * that crashed inside those few steps is stale in turn and broken the same way, one level down.
 * What no file lock can rule out stays: a holder frozen past LOCK_STALE_MS is taken for gone.
 */
async function breakIfStale(lockPath: string, depth: number): Promise<boolean> {
  const observed = await observe(lockPath);
  if (!observed) return true;
  if (!isStale(observed) || depth >= MAX_CLAIM_DEPTH) return false;
  const digest = createHash('sha256').update(observed.content).digest('base64url').slice(0, 16);
  const claim = await takeLock(`${lockPath}.${digest}`, 0, depth + 1);
  if (!claim) return false;
  try {
    if ((await contentOf(lockPath)) === observed.content) await unlinkIfPresent(lockPath);
  } finally {
    await claim.release();
  }
  return true;
}

interface HeldLock {
  readonly handle: FileHandle;
  release(): Promise<void>;
}

/**
 * Takes the lock file `lockPath`, waiting up to `waitMs` for a live holder; undefined when it
 * stayed held. The lock appears with its owner already written (a hard link to a finished file,
 * which fails if the lock exists), so a waiter never judges a half-written one.
 */
async function takeLock(lockPath: string, waitMs: number, depth: number): Promise<HeldLock | undefined> {
  const nonce = randomBytes(12).toString('base64url');
  const content = JSON.stringify({ nonce, host: hostname(), pid: process.pid, thread: threadId });
  const tokenPath = `${lockPath}.${nonce}.tmp`;
  // Before the lock can exist: this thread must never take its own live lock for a stale one.
  heldByThisThread.add(nonce);
  let handle: FileHandle | undefined;
  let isHeld = false;
  try {
    handle = await open(tokenPath, 'wx').catch((error: unknown) => {
      throw lockFailure(error);
    });
    await handle.writeFile(content);
    const giveUpAt = Date.now() + waitMs;
    for (let attempt = 0; !isHeld; attempt += 1) {
      try {
        await link(tokenPath, lockPath);
        isHeld = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw lockFailure(error);
        const isGone = await breakIfStale(lockPath, depth);
        // One more try right after a break, even with no time left to wait: the lock is free.
        if (Date.now() >= giveUpAt && !(isGone && attempt === 0)) return undefined;
        if (!isGone) await delay(Math.min(50, 1 + attempt));
      }
    }
  } finally {
    await unlink(tokenPath).catch(() => undefined);
    if (!isHeld) {
      heldByThisThread.delete(nonce);
      await handle?.close();
    }
  }
  const heldHandle = handle as FileHandle;
  return {
    handle: heldHandle,
    // A lease: a lock is only ever broken as stale once its holder has stopped refreshing it or
    // is gone, so between reading our own content back and unlinking, the file is still ours.
    // Whatever else is there (our lock was broken after all) is someone else's and stays.
    async release() {
      try {
        if ((await contentOf(lockPath)) === content) await unlinkIfPresent(lockPath);
      } finally {
        heldByThisThread.delete(nonce);
        await heldHandle.close();
      }
    },
  };
}

/**
 * Runs `work` holding the lock file `lockPath` (compare-and-set across processes and threads of
 * one machine), refreshing it meanwhile. Waits up to `waitMs` for another holder, then rejects
 * with StateLocked (retryable).
 */
export async function withFileLock<T>(lockPath: string, waitMs: number, work: () => Promise<T>): Promise<T> {
  const lock = await takeLock(lockPath, waitMs, 0);
  if (!lock) {
    const name = basename(lockPath, '.lock');
    throw new StateStoreError(
      'StateLocked',
      `state key ${name} stayed locked for ${waitMs} ms; retried next run`,
      {
        retryable: true,
      },
    );
  }
  const refresh = setInterval(() => {
    const now = new Date();
    lock.handle.utimes(now, now).catch(() => undefined);
  }, LOCK_REFRESH_MS);
  refresh.unref();
  try {
    return await work();
  } finally {
    clearInterval(refresh);
    await lock.release();
  }
}

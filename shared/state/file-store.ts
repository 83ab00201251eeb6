import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StateStoreError } from './errors';
import type { StateStore, VersionedItem } from './types';

interface StoredItem {
  readonly key: string;
  readonly version: number;
  readonly value: unknown;
}

const LOCK_STALE_MS = 10_000;
/**
 * A writer holds a key's lock for one small write; waiting longer than this means a stuck or
 * dead holder, and the caller (a run with a deadline) is better told than held.
 */
const LOCK_WAIT_MS = 1_000;

/** Stale: older than LOCK_STALE_MS, or taken by a process of this host that no longer runs. */
async function isStaleLock(lockPath: string): Promise<boolean> {
  const info = await stat(lockPath).catch(() => undefined);
  if (!info) return false;
  if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
  const owner = await readFile(lockPath, 'utf8').catch(() => '');
  const [host, pidText] = owner.split(' ');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function fileNameOf(key: string): string {
  return `${Buffer.from(key, 'utf8').toString('base64url')}.json`;
}

/**
 * One JSON file per key under a directory. Each write goes to a temporary file, is flushed to
 * disk, then renamed over the old one: a crash mid-write leaves the previous version intact and
 * an orphan `.tmp` that reads ignore. Writers of one key take a lock file (O_EXCL), so
 * compare-and-set holds across processes on one machine too.
 */
export class FileStateStore implements StateStore {
  readonly #directory: string;
  #ready: Promise<void> | undefined;

  constructor(directory: string) {
    this.#directory = directory;
  }

  #ensureDirectory(): Promise<void> {
    this.#ready ??= mkdir(this.#directory, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        throw new StateStoreError(
          'StateUnavailable',
          `cannot create state directory ${this.#directory}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      },
    );
    return this.#ready;
  }

  async #read(fileName: string): Promise<StoredItem | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.#directory, fileName), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StateStoreError('StateUnavailable', `cannot read state: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
    try {
      return JSON.parse(text) as StoredItem;
    } catch (error) {
      throw new StateStoreError('StateCorrupt', `state file ${fileName} is not JSON`, { cause: error });
    }
  }

  async #withLock<T>(fileName: string, work: () => Promise<T>): Promise<T> {
    const lockPath = join(this.#directory, `${fileName}.lock`);
    const giveUpAt = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const handle = await open(lockPath, 'wx');
        await handle.writeFile(`${hostname()} ${process.pid}`).finally(() => handle.close());
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StateStoreError('StateUnavailable', `cannot lock state: ${(error as Error).message}`, {
            retryable: true,
            cause: error,
          });
        }
        // A writer that crashed while holding the lock must not block the key forever.
        if (await isStaleLock(lockPath)) await rm(lockPath, { force: true });
        else if (Date.now() >= giveUpAt) {
          throw new StateStoreError(
            'StateLocked',
            `state key ${fileName} stayed locked for ${LOCK_WAIT_MS} ms; retried next run`,
            { retryable: true },
          );
        } else await delay(Math.min(50, 1 + attempt));
      }
    }
    try {
      return await work();
    } finally {
      await rm(lockPath, { force: true });
    }
  }

  async #writeAtomically(fileName: string, item: StoredItem): Promise<void> {
    const finalPath = join(this.#directory, fileName);
    const tempPath = `${finalPath}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tempPath, 'w');
    try {
      await handle.writeFile(JSON.stringify(item));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, finalPath);
  }

  async get<T = unknown>(key: string): Promise<VersionedItem<T> | undefined> {
    await this.#ensureDirectory();
    const item = await this.#read(fileNameOf(key));
    return item ? { key: item.key, value: item.value as T, version: item.version } : undefined;
  }

  async list<T = unknown>(prefix: string): Promise<VersionedItem<T>[]> {
    await this.#ensureDirectory();
    const names = await readdir(this.#directory);
    const keys = names
      .filter((name) => name.endsWith('.json'))
      .map((name) => Buffer.from(name.slice(0, -'.json'.length), 'base64url').toString('utf8'))
      .filter((key) => key.startsWith(prefix))
      .sort();
    const items: VersionedItem<T>[] = [];
    for (const key of keys) {
      try {
        const item = await this.get<T>(key);
        if (item) items.push(item);
      } catch (error) {
        if (!(error instanceof StateStoreError) || error.code !== 'StateCorrupt') throw error;
        items.push({ key, value: undefined as T, version: -1, unreadable: error.message });
      }
    }
    return items;
  }

  async put(key: string, value: unknown, expectedVersion: number): Promise<number | undefined> {
    await this.#ensureDirectory();
    const fileName = fileNameOf(key);
    return this.#withLock(fileName, async () => {
      const current = await this.#read(fileName);
      if ((current?.version ?? 0) !== expectedVersion) return undefined;
      const version = expectedVersion + 1;
      try {
        await this.#writeAtomically(fileName, { key, version, value: JSON.parse(JSON.stringify(value)) });
      } catch (error) {
        throw new StateStoreError('StateUnavailable', `cannot write state: ${(error as Error).message}`, {
          retryable: true,
          cause: error,
        });
      }
      return version;
    });
  }

  async delete(key: string, expectedVersion: number): Promise<boolean> {
    await this.#ensureDirectory();
    const fileName = fileNameOf(key);
    return this.#withLock(fileName, async () => {
      const current = await this.#read(fileName);
      if (!current || current.version !== expectedVersion) return false;
      await unlink(join(this.#directory, fileName));
      return true;
    });
  }

  async close(): Promise<void> {}
}

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StateStoreError } from './errors';
import { withFileLock } from './file-lock';
import { COUNTER_MIN_LIFETIME_MS, type Counter, type StateStore, type VersionedItem } from './types';

interface StoredItem {
  readonly key: string;
  readonly version: number;
  readonly value: unknown;
}

/**
 * A writer holds a key's lock for one small write; waiting longer than this means a stuck or
 * dead holder, and the caller (a run with a deadline) is better told than held.
 */
const LOCK_WAIT_MS = 1_000;
const COUNTERS_DIRECTORY = 'counters';
/** Held by the one pruner of a counters directory; never a counter's name (those end in .json). */
const PRUNE_LOCK = 'prune.lock';

function fileNameOf(key: string): string {
  return `${Buffer.from(key, 'utf8').toString('base64url')}.json`;
}

function keyOf(fileName: string): string {
  return Buffer.from(fileName.slice(0, -'.json'.length), 'base64url').toString('utf8');
}

function hasMissingFileCause(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return true;
  }
  return false;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

function unavailable(action: string, error: unknown): StateStoreError {
  return new StateStoreError('StateUnavailable', `cannot ${action}: ${(error as Error).message}`, {
    retryable: true,
    cause: error,
  });
}

/**
 * One JSON file per key under a directory. Each write goes to a temporary file, is flushed to
 * disk, then renamed over the old one: a crash mid-write leaves the previous version intact and
 * an orphan `.tmp` that reads ignore. Writers of one key take its lock file (see file-lock.ts),
 * so compare-and-set holds across processes and threads of one machine too.
 */
export class FileStateStore implements StateStore {
  readonly #directory: string;
  readonly #countersDirectory: string;
  #ready: Promise<void> | undefined;
  #lastPrunedAt = 0;
  #pruning: Promise<void> | undefined;

  constructor(directory: string) {
    this.#directory = directory;
    this.#countersDirectory = join(directory, COUNTERS_DIRECTORY);
  }

  #ensureDirectory(): Promise<void> {
    this.#ready ??= mkdir(this.#countersDirectory, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.#ready = undefined;
        // A folder that cannot be made now (a removed mount or link target, which node reports as
        // ENOTDIR like a path through a file; a full disk) may be later: retryable, so the HTTP
        // function answers 503 with Retry-After and the poller's next run tries again.
        throw unavailable(`create state directory ${this.#directory}`, error);
      },
    );
    return this.#ready;
  }

  /**
   * Runs `work` in the store's directory. When the directory was removed under a live store
   * (`rm -rf .local/state` while `npm start` runs), the store recreates it and runs `work` once
   * more, as a fresh store would: a failed step wrote nothing, so the second run is safe.
   */
  async #inDirectory<T>(work: () => Promise<T>): Promise<T> {
    await this.#ensureDirectory();
    try {
      return await work();
    } catch (error) {
      if (!hasMissingFileCause(error) || (await isDirectory(this.#countersDirectory))) throw error;
      this.#ready = undefined;
      await this.#ensureDirectory();
      return work();
    }
  }

  async #read(fileName: string, directory = this.#directory): Promise<StoredItem | undefined> {
    let text: string;
    try {
      text = await readFile(join(directory, fileName), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw unavailable('read state', error);
    }
    let item: Partial<StoredItem> | null;
    try {
      item = JSON.parse(text) as Partial<StoredItem> | null;
    } catch (error) {
      throw new StateStoreError('StateCorrupt', `state file ${fileName} is not JSON`, { cause: error });
    }
    // Compare-and-set means nothing without a whole, positive version, as Tablestore's stores insist too.
    const version = item?.version;
    if (
      typeof item?.key !== 'string' ||
      typeof version !== 'number' ||
      !Number.isSafeInteger(version) ||
      version < 1
    ) {
      throw new StateStoreError('StateCorrupt', `state file ${fileName} has no valid key and version`);
    }
    // A file copied or renamed by hand holds another key than its name says. Tablestore answers a
    // row's own key, so reading this one as the named key would let a record pass for another.
    if (item.key !== keyOf(fileName)) {
      throw new StateStoreError(
        'StateCorrupt',
        `state file ${fileName} holds the key ${JSON.stringify(item.key.slice(0, 200))}, not the one its name encodes`,
      );
    }
    return item as StoredItem;
  }

  #withLock<T>(fileName: string, work: () => Promise<T>, directory = this.#directory): Promise<T> {
    return withFileLock(join(directory, `${fileName}.lock`), LOCK_WAIT_MS, work);
  }

  async #writeAtomically(
    fileName: string,
    item: StoredItem,
    options: { directory?: string; isDurable?: boolean } = {},
  ): Promise<void> {
    const finalPath = join(options.directory ?? this.#directory, fileName);
    const tempPath = `${finalPath}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tempPath, 'w');
    try {
      await handle.writeFile(JSON.stringify(item));
      if (options.isDurable ?? true) await handle.sync();
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
    const names = await this.#inDirectory(() =>
      readdir(this.#directory).catch((error: unknown) => {
        throw unavailable('list state', error);
      }),
    );
    const keys = names
      .filter((name) => name.endsWith('.json'))
      .map(keyOf)
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
    const fileName = fileNameOf(key);
    return this.#inDirectory(() =>
      this.#withLock(fileName, async () => {
        const current = await this.#read(fileName);
        if ((current?.version ?? 0) !== expectedVersion) return undefined;
        const version = expectedVersion + 1;
        try {
          await this.#writeAtomically(fileName, { key, version, value: JSON.parse(JSON.stringify(value)) });
        } catch (error) {
          throw unavailable('write state', error);
        }
        return version;
      }),
    );
  }

  async delete(key: string, expectedVersion: number): Promise<boolean> {
    const fileName = fileNameOf(key);
    return this.#inDirectory(() =>
      this.#withLock(fileName, async () => {
        const current = await this.#read(fileName);
        if (!current || current.version !== expectedVersion) return false;
        await unlink(join(this.#directory, fileName)).catch((error: unknown) => {
          throw unavailable('delete state', error);
        });
        return true;
      }),
    );
  }

  async increment(key: string, by: number): Promise<number> {
    const fileName = fileNameOf(key);
    const directory = this.#countersDirectory;
    const value = await this.#inDirectory(() =>
      this.#withLock(
        fileName,
        async () => {
          const current = await this.#read(fileName, directory);
          const next = (typeof current?.value === 'number' ? current.value : 0) + by;
          // Counters only count recent calls: a crash losing the last one matters less than an fsync per call.
          await this.#writeAtomically(
            fileName,
            { key, version: 1, value: next },
            { directory, isDurable: false },
          ).catch((error: unknown) => {
            throw unavailable('write a counter', error);
          });
          return next;
        },
        directory,
      ),
    );
    this.#startPruning();
    return value;
  }

  async counters(startKey: string, endKey: string): Promise<Counter[]> {
    const start = Buffer.from(startKey, 'utf8');
    const end = Buffer.from(endKey, 'utf8');
    const names = await this.#inDirectory(() =>
      readdir(this.#countersDirectory).catch((error: unknown) => {
        throw unavailable('list counters', error);
      }),
    );
    const inRange = names
      .filter((name) => name.endsWith('.json'))
      .map((name) => ({ name, key: Buffer.from(keyOf(name), 'utf8') }))
      .filter(({ key }) => Buffer.compare(key, start) >= 0 && Buffer.compare(key, end) < 0)
      .sort((left, right) => Buffer.compare(left.key, right.key));
    const counters: Counter[] = [];
    for (const { name } of inRange) {
      const item = await this.#read(name, this.#countersDirectory);
      if (item && typeof item.value === 'number') counters.push({ key: item.key, value: item.value });
    }
    return counters;
  }

  /**
   * Drops counters idle past their lifetime, at most once per lifetime per store, off the path
   * of the increment that triggers it: a budget decision has 100 ms, and pruning thousands of
   * counters takes longer. Pruning is tidying; when it fails, the next one tries again.
   */
  #startPruning(): void {
    const now = Date.now();
    if (this.#pruning || now - this.#lastPrunedAt < COUNTER_MIN_LIFETIME_MS) return;
    this.#lastPrunedAt = now;
    this.#pruning = withFileLock(join(this.#countersDirectory, PRUNE_LOCK), 0, () => this.#pruneCounters())
      .catch(() => undefined)
      .finally(() => {
        this.#pruning = undefined;
      });
  }

  /**
   * Removes each counter file not written for COUNTER_MIN_LIFETIME_MS. The age is judged again
   * under the counter's own lock, so an increment landing meanwhile keeps its counter; a counter
   * whose lock is held is in use and skipped.
   */
  async #pruneCounters(): Promise<void> {
    const directory = this.#countersDirectory;
    const isIdle = async (name: string) => {
      const info = await stat(join(directory, name)).catch(() => undefined);
      return info !== undefined && Date.now() - info.mtimeMs > COUNTER_MIN_LIFETIME_MS;
    };
    const names = await readdir(directory);
    for (const name of names.filter((entry) => entry.endsWith('.json'))) {
      if (!(await isIdle(name))) continue;
      await withFileLock(join(directory, `${name}.lock`), 0, async () => {
        if (await isIdle(name)) await rm(join(directory, name), { force: true });
      }).catch(() => undefined);
    }
  }

  /** Waits for a pruning under way, so the directory can be removed once the store is closed. */
  async close(): Promise<void> {
    await this.#pruning;
  }
}

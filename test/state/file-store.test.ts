import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import {
  COUNTER_MIN_LIFETIME_MS,
  createStateStore,
  type StateStore,
  StateStoreError,
} from '../../shared/state';
import { LOCK_STALE_MS, withFileLock } from '../../shared/state/file-lock';
import { FileStateStore } from '../../shared/state/file-store';
import { describeStateStoreContract } from './store-contract';

const freshDirectory = () => mkdtempSync(join(tmpdir(), 'cfw-state-'));
const directories = new WeakMap<StateStore, string>();
const fileNameOf = (key: string) => `${Buffer.from(key, 'utf8').toString('base64url')}.json`;
/** Above pid_max on common hosts: never a running process. */
const DEAD_PID = 2 ** 22 + 12_345;

/** A lock file as another owner leaves it, `ageMs` after its last refresh. */
function plantLock(path: string, owner: { pid: number; thread: number; host?: string }, ageMs = 0): void {
  writeFileSync(
    path,
    JSON.stringify({ nonce: `planted-${owner.pid}-${owner.thread}`, host: hostname(), ...owner }),
  );
  const refreshedAt = new Date(Date.now() - ageMs);
  utimesSync(path, refreshedAt, refreshedAt);
}

/** Counters written `ageMs` ago, as a minute of budget traffic leaves them. */
function plantCounters(directory: string, count: number, ageMs: number): string[] {
  mkdirSync(join(directory, 'counters'), { recursive: true });
  const writtenAt = new Date(Date.now() - ageMs);
  return Array.from({ length: count }, (_, index) => {
    const key = `budget/all/${String(index).padStart(13, '0')}`;
    const path = join(directory, 'counters', fileNameOf(key));
    writeFileSync(path, JSON.stringify({ key, version: 1, value: 1 }));
    utimesSync(path, writtenAt, writtenAt);
    return path;
  });
}

describeStateStoreContract(
  'file store',
  async () => {
    const directory = freshDirectory();
    const store = await createStateStore(`file:${directory}`);
    directories.set(store, directory);
    return store;
  },
  async (store, key, damage) => {
    const file = join(directories.get(store) ?? '', `${Buffer.from(key).toString('base64url')}.json`);
    writeFileSync(
      file,
      damage === 'value not JSON'
        ? `{"key":${JSON.stringify(key)},"version":1,"val`
        : JSON.stringify({ key, version: 'one', value: 1 }),
    );
  },
);

describe('file store', () => {
  it('reads a file copied or renamed under another key as StateCorrupt, as Tablestore never answers a row under a key not its own', async () => {
    const directory = freshDirectory();
    const store = await createStateStore(`file:${directory}`);
    await store.put('flow/-/1', { status: 'PUBLISHED' }, 0);
    // What `cp` of one record's file to another's name leaves.
    writeFileSync(
      join(directory, fileNameOf('flow/-/2')),
      JSON.stringify({ key: 'flow/-/1', version: 1, value: { status: 'PUBLISHED' } }),
    );
    const read = store.get('flow/-/2');
    await expect(read).rejects.toBeInstanceOf(StateStoreError);
    await expect(read).rejects.toMatchObject({ code: 'StateCorrupt', retryable: false });
    await expect(read).rejects.toThrow(/holds the key "flow\/-\/1", not the one its name encodes/);
    const listed = await store.list('flow/');
    expect(listed.map(({ key, version }) => ({ key, version }))).toEqual([
      { key: 'flow/-/1', version: 1 },
      { key: 'flow/-/2', version: -1 },
    ]);
    expect(listed[1]?.unreadable).toMatch(/not the one its name encodes/);
  });

  it('survives a crash mid-write: leftover temp files are ignored and data stays intact', async () => {
    const directory = freshDirectory();
    const store = await createStateStore(`file:${directory}`);
    await store.put('flow/-/1', { status: 'PUBLISHED' }, 0);
    const [file] = readdirSync(directory).filter((name) => name.endsWith('.json'));
    // What a crash between writing the temp file and renaming it leaves behind.
    writeFileSync(join(directory, `${file}.abc123.tmp`), '{"key":"flow/-/1","version":2,"val');
    const reopened = await createStateStore(`file:${directory}`);
    expect(await reopened.get('flow/-/1')).toEqual({
      key: 'flow/-/1',
      value: { status: 'PUBLISHED' },
      version: 1,
    });
    expect((await reopened.list('flow/')).map((item) => item.key)).toEqual(['flow/-/1']);
    expect(await reopened.put('flow/-/1', { status: 'THROTTLED' }, 1)).toBe(2);
  });

  it('keeps compare-and-set across two store instances on one directory', async () => {
    const directory = freshDirectory();
    const first = await createStateStore(`file:${directory}`);
    const second = await createStateStore(`file:${directory}`);
    await first.put('k', 1, 0);
    const results = await Promise.all([first.put('k', 'a', 1), second.put('k', 'b', 1)]);
    expect(results.filter((result) => result === 2)).toHaveLength(1);
  });

  it('prunes counters idle past their lifetime, keeping recent ones', async () => {
    const directory = freshDirectory();
    const first = await createStateStore(`file:${directory}`);
    await first.increment('budget/all/old', 3);
    const [oldFile] = readdirSync(join(directory, 'counters'));
    const longAgo = new Date(Date.now() - COUNTER_MIN_LIFETIME_MS - 5000);
    utimesSync(join(directory, 'counters', oldFile ?? ''), longAgo, longAgo);
    const next = await createStateStore(`file:${directory}`);
    await next.increment('budget/all/new', 1);
    await next.close();
    expect(await first.counters('budget/', 'budget0')).toEqual([{ key: 'budget/all/new', value: 1 }]);
  });

  it('recreates its folder when it is removed under a live store (rm -rf .local/state), instead of failing every call', async () => {
    const directory = freshDirectory();
    const store = await createStateStore(`file:${directory}`);
    await store.put('flow/-/1', { status: 'PUBLISHED' }, 0);
    await store.increment('budget/all/1', 1);
    rmSync(directory, { recursive: true, force: true });

    expect(await store.list('flow/')).toEqual([]);
    expect(await store.get('flow/-/1')).toBeUndefined();
    expect(await store.counters('budget/', 'budget0')).toEqual([]);
    rmSync(directory, { recursive: true, force: true });
    expect(await store.put('flow/-/1', { status: 'THROTTLED' }, 0)).toBe(1);
    rmSync(directory, { recursive: true, force: true });
    expect(await store.increment('budget/all/1', 2)).toBe(2);
    rmSync(directory, { recursive: true, force: true });
    expect(await store.delete('flow/-/1', 1)).toBe(false);
    expect(await store.put('flow/-/2', { status: 'DRAFT' }, 0)).toBe(1);
    expect(await store.delete('flow/-/2', 1)).toBe(true);
    expect(existsSync(join(directory, 'counters'))).toBe(true);
    await store.close();
  });

  it('answers a folder it cannot recreate with a typed retryable StateUnavailable, not a raw ENOENT', async () => {
    const parent = freshDirectory();
    const directory = join(parent, 'state');
    const store = await createStateStore(`file:${directory}`);
    await store.put('flow/-/1', { status: 'PUBLISHED' }, 0);
    rmSync(parent, { recursive: true, force: true });
    // A file where the parent folder was: mkdir -p cannot recreate the store's folder.
    writeFileSync(parent, 'not a folder');
    try {
      for (const call of [
        () => store.list('flow/'),
        () => store.put('flow/-/1', {}, 0),
        () => store.increment('budget/all/1', 1),
        () => store.counters('budget/', 'budget0'),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'StateUnavailable', retryable: true });
      }
    } finally {
      rmSync(parent, { force: true });
    }
  });

  it('answers a folder that cannot be made (a dangling symlink on the way, or first use) as retryable StateUnavailable', async () => {
    const root = freshDirectory();
    const disk = join(root, 'disk');
    mkdirSync(disk);
    // .local on another disk through a symlink: the disk's folder goes, the link stays and dangles.
    symlinkSync(disk, join(root, 'link'));
    const store = await createStateStore(`file:${join(root, 'link', 'state')}`);
    await store.put('flow/-/1', { status: 'PUBLISHED' }, 0);
    rmSync(disk, { recursive: true, force: true });
    try {
      await expect(store.list('flow/')).rejects.toMatchObject({ code: 'StateUnavailable', retryable: true });
      const fresh = await createStateStore(`file:${join(root, 'link', 'other')}`);
      await expect(fresh.get('flow/-/1')).rejects.toMatchObject({
        code: 'StateUnavailable',
        retryable: true,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('rejects an unknown STATE_URL naming the accepted forms', async () => {
    await expect(createStateStore('redis://x')).rejects.toBeInstanceOf(StateStoreError);
    await expect(createStateStore('redis://x')).rejects.toThrow(/file:<path>.*tablestore:\/\//);
  });
});

describe('file store locks', () => {
  it("lets exactly one writer create a key once a dead writer's lock is broken", async () => {
    for (let trial = 0; trial < 20; trial += 1) {
      const directory = freshDirectory();
      plantLock(join(directory, `${fileNameOf('flow/-/1')}.lock`), { pid: DEAD_PID, thread: 0 });
      // Separate store objects stand for separate processes: the race needs no shared memory.
      const stores = Array.from({ length: 8 }, () => new FileStateStore(directory));
      const results = await Promise.all(
        stores.map((store, writer) =>
          store.put('flow/-/1', { writer }, 0).catch((error: StateStoreError) => error.code),
        ),
      );
      expect(results.filter((result) => result === 1)).toHaveLength(1);
      // A loser learns of the conflict; on a very busy machine it may instead time out waiting.
      expect(
        results.every((result) => result === 1 || result === undefined || result === 'StateLocked'),
      ).toBe(true);
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("counts every increment once a dead writer's counter lock is broken", async () => {
    const key = 'budget/all/0000000000001';
    for (let trial = 0; trial < 20; trial += 1) {
      const directory = freshDirectory();
      mkdirSync(join(directory, 'counters'));
      plantLock(join(directory, 'counters', `${fileNameOf(key)}.lock`), { pid: DEAD_PID, thread: 0 });
      const stores = Array.from({ length: 8 }, () => new FileStateStore(directory));
      const values = await Promise.all(stores.map((store) => store.increment(key, 1).catch(() => undefined)));
      const counted = values.filter((value) => value !== undefined);
      expect(new Set(counted).size).toBe(counted.length);
      expect(await stores[0]?.counters(key, `${key}0`)).toEqual([{ key, value: counted.length }]);
      await Promise.all(stores.map((store) => store.close()));
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it.each([
    ['a process of this host that has ended', { pid: DEAD_PID, thread: 0 }],
    ['this thread, which no longer holds it', { pid: process.pid, thread: threadId }],
  ])('breaks at once a lock left by %s', async (_owner, owner) => {
    const directory = freshDirectory();
    plantLock(join(directory, `${fileNameOf('k')}.lock`), owner);
    const store = new FileStateStore(directory);
    // No wait: a write that waited out the lock would fail with StateLocked instead.
    expect(await store.put('k', 1, 0)).toBe(1);
  });

  it('breaks a lock left by a version before owner tokens when its process has ended', async () => {
    const directory = freshDirectory();
    writeFileSync(join(directory, `${fileNameOf('k')}.lock`), `${hostname()} ${DEAD_PID}`);
    expect(await new FileStateStore(directory).put('k', 1, 0)).toBe(1);
  });

  it("waits on another thread's lock (a terminated emulator Worker shares the pid) until it goes unrefreshed", async () => {
    const directory = freshDirectory();
    const lockPath = join(directory, `${fileNameOf('k')}.lock`);
    const store = new FileStateStore(directory);
    plantLock(lockPath, { pid: process.pid, thread: threadId + 1000 });
    await expect(store.put('k', 1, 0)).rejects.toMatchObject({ code: 'StateLocked', retryable: true });
    plantLock(lockPath, { pid: process.pid, thread: threadId + 1000 }, LOCK_STALE_MS + 1000);
    expect(await store.put('k', 1, 0)).toBe(1);
  });

  it('excludes a second copy of the lock module in this thread (a bundle loaded afresh per simulated instance)', async () => {
    const first = await import('../../shared/state/file-lock');
    vi.resetModules();
    const second = await import('../../shared/state/file-lock');
    expect(second.withFileLock).not.toBe(first.withFileLock);
    const lockPath = join(mkdtempSync(join(tmpdir(), 'cfw-lock-copies-')), 'key.lock');
    let inside = 0;
    let most = 0;
    const work = async () => {
      inside += 1;
      most = Math.max(most, inside);
      await delay(200);
      inside -= 1;
    };
    await Promise.all([first.withFileLock(lockPath, 5000, work), second.withFileLock(lockPath, 5000, work)]);
    expect(most).toBe(1);
  });

  it('leaves a lock it does not own in place on release', async () => {
    const directory = freshDirectory();
    const lockPath = join(directory, 'k.lock');
    // What a holder finds at release after its lock was taken for stale and the key taken again.
    const foreign = { pid: DEAD_PID + 1, thread: 0 };
    await withFileLock(lockPath, 1000, async () => plantLock(lockPath, foreign));
    expect(readdirSync(directory)).toEqual(['k.lock']);
  });

  it('refreshes a held lock, so a long write is not taken for a dead one', async () => {
    const directory = freshDirectory();
    const lockPath = join(directory, 'k.lock');
    await withFileLock(lockPath, 1000, async () => {
      const longAgo = new Date(Date.now() - LOCK_STALE_MS - 1000);
      utimesSync(lockPath, longAgo, longAgo);
      await expect
        .poll(() => Date.now() - statSync(lockPath).mtimeMs, { timeout: 10_000 })
        .toBeLessThan(LOCK_STALE_MS);
    });
    expect(existsSync(lockPath)).toBe(false);
  });
});

describe('file store counter pruning', () => {
  it('runs off the increment path: the increment answers before any idle counter is removed', async () => {
    const directory = freshDirectory();
    const idle = plantCounters(directory, 200, COUNTER_MIN_LIFETIME_MS + 60_000);
    const store = new FileStateStore(directory);
    expect(await store.increment('budget/all/9999999999999', 1)).toBe(1);
    expect(idle.every((path) => existsSync(path))).toBe(true);
    await store.close();
    expect(idle.some((path) => existsSync(path))).toBe(false);
    expect(await store.counters('budget/', 'budget0')).toEqual([
      { key: 'budget/all/9999999999999', value: 1 },
    ]);
  });

  it('keeps a counter incremented while pruning is under way', async () => {
    const directory = freshDirectory();
    plantCounters(directory, 200, COUNTER_MIN_LIFETIME_MS + 60_000);
    const store = new FileStateStore(directory);
    await store.increment('budget/all/9999999999999', 1);
    const late = await Promise.all(
      [0, 50, 100, 150, 199].map((index) =>
        store.increment(`budget/all/${String(index).padStart(13, '0')}`, 1),
      ),
    );
    await store.close();
    const kept = await store.counters('budget/', 'budget0');
    // Each was idle when pruning began; once incremented it is live and must survive.
    expect(kept).toHaveLength(6);
    expect(late.every((value) => value === 1 || value === 2)).toBe(true);
  });

  it("leaves pruning to the one pruner holding the directory's prune lock", async () => {
    const directory = freshDirectory();
    const idle = plantCounters(directory, 20, COUNTER_MIN_LIFETIME_MS + 60_000);
    plantLock(join(directory, 'counters', 'prune.lock'), { pid: process.pid, thread: threadId + 1000 });
    const store = new FileStateStore(directory);
    await store.increment('budget/all/9999999999999', 1);
    await store.close();
    expect(idle.every((path) => existsSync(path))).toBe(true);
  });
});

import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  COUNTER_MIN_LIFETIME_MS,
  createStateStore,
  type StateStore,
  StateStoreError,
} from '../../shared/state';
import { describeStateStoreContract } from './store-contract';

const freshDirectory = () => mkdtempSync(join(tmpdir(), 'cfw-state-'));
const directories = new WeakMap<StateStore, string>();

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
    expect(await next.counters('budget/', 'budget0')).toEqual([{ key: 'budget/all/new', value: 1 }]);
  });

  it('rejects an unknown STATE_URL naming the accepted forms', async () => {
    await expect(createStateStore('redis://x')).rejects.toBeInstanceOf(StateStoreError);
    await expect(createStateStore('redis://x')).rejects.toThrow(/file:<path>.*tablestore:\/\//);
  });
});

import { describe, expect, it } from 'vitest';
import { type StateStore, StateStoreError } from '../../shared/state';

/** Ways stored bytes go bad: a truncated or hand-edited value, a version that is no version. */
export type Damage = 'value not JSON' | 'version not a positive integer';

/**
 * Stores `key` in `store`'s backing storage with the given damage, behind the store's back (a
 * crash mid-write, a buggy writer, a hand edit), as only the test knows how for each adapter.
 */
export type PlantUnreadable = (store: StateStore, key: string, damage: Damage) => Promise<void>;

/** The behaviour every StateStore must show; each adapter's test file runs it with its own factory. */
export function describeStateStoreContract(
  name: string,
  open: () => Promise<StateStore>,
  plantUnreadable: PlantUnreadable,
): void {
  describe(`${name} (state store contract)`, () => {
    it('creates, reads and updates with versions', async () => {
      const store = await open();
      expect(await store.get('a')).toBeUndefined();
      expect(await store.put('a', { n: 1 }, 0)).toBe(1);
      expect(await store.get('a')).toEqual({ key: 'a', value: { n: 1 }, version: 1 });
      expect(await store.put('a', { n: 2 }, 1)).toBe(2);
      expect((await store.get('a'))?.value).toEqual({ n: 2 });
      await store.close();
    });

    it('refuses a write that expects another version', async () => {
      const store = await open();
      await store.put('b', 'first', 0);
      expect(await store.put('b', 'stale', 0)).toBeUndefined();
      expect(await store.put('b', 'stale', 5)).toBeUndefined();
      expect((await store.get('b'))?.value).toBe('first');
      await store.close();
    });

    it('lets exactly one of many concurrent writers of one version win', async () => {
      const store = await open();
      await store.put('c', 0, 0);
      const results = await Promise.all(Array.from({ length: 12 }, (_, index) => store.put('c', index, 1)));
      expect(results.filter((result) => result === 2)).toHaveLength(1);
      expect(results.filter((result) => result === undefined)).toHaveLength(11);
      await store.close();
    });

    it('deletes only at the expected version', async () => {
      const store = await open();
      await store.put('d', 1, 0);
      expect(await store.delete('d', 7)).toBe(false);
      expect(await store.delete('d', 1)).toBe(true);
      expect(await store.get('d')).toBeUndefined();
      expect(await store.delete('d', 1)).toBe(false);
      await store.close();
    });

    it('lists by prefix in key order, across many items', async () => {
      const store = await open();
      const keys = Array.from({ length: 230 }, (_, index) => `flow/-/${String(index).padStart(4, '0')}`);
      for (const key of [...keys].reverse()) await store.put(key, { key }, 0);
      await store.put('other/x', 1, 0);
      const listed = await store.list<{ key: string }>('flow/');
      expect(listed.map((item) => item.key)).toEqual(keys);
      expect(listed.every((item) => item.value.key === item.key && item.version === 1)).toBe(true);
      await store.close();
    });

    it.each<Damage>(['value not JSON', 'version not a positive integer'])(
      'lists around an unreadable item (%s): it is marked, every other item still listed',
      async (damage) => {
        const store = await open();
        await store.put('flow/-/1', { n: 1 }, 0);
        await store.put('flow/-/3', { n: 3 }, 0);
        await plantUnreadable(store, 'flow/-/2', damage);
        const listed = await store.list<{ n: number }>('flow/');
        expect(listed.map((item) => item.key)).toEqual(['flow/-/1', 'flow/-/2', 'flow/-/3']);
        expect(listed[0]).toEqual({ key: 'flow/-/1', value: { n: 1 }, version: 1 });
        expect(listed[2]).toEqual({ key: 'flow/-/3', value: { n: 3 }, version: 1 });
        // No version a write could name: an unreadable item is fixed or deleted by hand, never overwritten.
        expect(listed[1]).toMatchObject({ key: 'flow/-/2', value: undefined, version: -1 });
        expect(listed[1]?.unreadable).toEqual(expect.stringMatching(/./));
        await expect(store.get('flow/-/2')).rejects.toBeInstanceOf(StateStoreError);
        await store.close();
      },
    );

    // Callers (the operator routes, docs/http.md) name one code for damaged state, whatever the store.
    it.each<Damage>(['value not JSON', 'version not a positive integer'])(
      'reports an unreadable item read by key as StateCorrupt, not retryable (%s)',
      async (damage) => {
        const store = await open();
        await plantUnreadable(store, 'flow/-/9', damage);
        await expect(store.get('flow/-/9')).rejects.toMatchObject({
          name: 'StateStoreError',
          code: 'StateCorrupt',
          retryable: false,
        });
        await store.close();
      },
    );

    it('round-trips unicode keys and nested JSON', async () => {
      const store = await open();
      const value = { text: '流程 ✓ "quoted" \\ back', nested: { list: [1, null, true, { deep: 'x' }] } };
      await store.put('flow/cams-空间/1', value, 0);
      expect((await store.get('flow/cams-空间/1'))?.value).toEqual(value);
      await store.close();
    });

    it('increments a counter atomically from zero, by any amount, and answers the new value', async () => {
      const store = await open();
      expect(await store.increment('budget/all/1', 1)).toBe(1);
      expect(await store.increment('budget/all/1', 2)).toBe(3);
      expect(await store.increment('budget/all/1', -1)).toBe(2);
      expect(await store.increment('budget/all/2', -1)).toBe(-1);
      await store.close();
    });

    it('gives each of many concurrent increments its own value', async () => {
      const store = await open();
      const values = await Promise.all(Array.from({ length: 15 }, () => store.increment('hot', 1)));
      expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, index) => index + 1));
      await store.close();
    });

    it('reads counters by key range, apart from versioned items', async () => {
      const store = await open();
      for (const bucket of ['09', '10', '11', '12'])
        await store.increment(`budget/all/${bucket}`, Number(bucket));
      await store.increment('budget/poll/10', 1);
      await store.put('budget/all/105', 'an item, not a counter', 0);
      expect(await store.counters('budget/all/10', 'budget/all/12')).toEqual([
        { key: 'budget/all/10', value: 10 },
        { key: 'budget/all/11', value: 11 },
      ]);
      expect(await store.counters('budget/none/', 'budget/none0')).toEqual([]);
      expect(await store.get('budget/all/10')).toBeUndefined();
      expect((await store.list('budget/')).map((item) => item.key)).toEqual(['budget/all/105']);
      await store.close();
    });
  });
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, type Position, page } from '../../functions/http/pagination';
import { openApiDocument } from './openapi-check';

/** Texts a stored record may hold: any UTF-16, lone surrogates and control characters included. */
const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength });
const position = fc.array(fc.oneof(text(300), fc.integer({ min: -8.64e15, max: 8.64e15 })), {
  minLength: 1,
  maxLength: 4,
});

/** Every item, page by page, each cursor passed back as issued. */
function allPages(items: readonly Position[], scope: string, limit: number): Position[] {
  const seen: Position[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages <= items.length; pages += 1) {
    const served = page(items, (item) => item, { after: decodeCursor(cursor, scope), limit, scope });
    seen.push(...served.items);
    if (served.nextCursor === null) return seen;
    cursor = served.nextCursor;
  }
  throw new Error('paging did not end');
}

describe('pagination cursors', () => {
  it('accepts back every cursor it issues, and pages through every item once', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(position, { minLength: 1, maxLength: 8, selector: (item) => JSON.stringify(item) }),
        text(400),
        fc.integer({ min: 1, max: 3 }),
        (items, scope, limit) => {
          const seen = allPages(items, scope, limit);
          expect(seen).toHaveLength(items.length);
          expect(new Set(seen)).toEqual(new Set(items));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('issues a cursor it accepts for 200-character non-ASCII ids (review51 finding 4)', () => {
    const scope = `history flow/c${'s'.repeat(63)}/9${'8'.repeat(63)}`;
    const items = ['é', 'ü', '\u0000', '\ud800'].map((char) => [-1, `evt_${char.repeat(196)}`, `k${char}`]);
    expect(allPages(items, scope, 1)).toHaveLength(items.length);
    const first = page(items, (item) => item, { after: undefined, limit: 1, scope }).nextCursor ?? '';
    expect(first.length).toBeLessThan(1100);
    expect(() => decodeCursor(first, 'history flow/-/1')).toThrow(/belongs to another listing/);
  });

  it('issues cursors up to exactly the length openapi.yaml documents, and accepts them', () => {
    // Every text at the bound (158 characters + 2 quotes = 160 bytes), kept as it is.
    const at = (char: string) => char.repeat(158);
    const scope = at('s');
    const items = [
      [at('a'), at('b'), at('c'), at('d')],
      [at('a'), at('b'), at('c'), at('e')],
    ];
    const { nextCursor } = page(items, (item) => item, { after: undefined, limit: 1, scope });
    const documented = (
      openApiDocument as unknown as {
        components: { parameters: { cursor: { schema: { maxLength: number } } } };
      }
    ).components.parameters.cursor.schema.maxLength;
    expect(nextCursor?.length).toBe(documented);
    expect(decodeCursor(nextCursor ?? '', scope)).toEqual(items[0]);
    expect(() => decodeCursor(`${nextCursor}A`, scope)).toThrow(/not one this API issued/);
  });

  it('keeps ordinary positions readable in the cursor', () => {
    const items = [
      [-2, 'evt_0123456789abcdef0123456789abcdef'],
      [-1, 'evt_fedcba9876543210fedcba9876543210'],
    ];
    const { nextCursor } = page(items, (item) => item, {
      after: undefined,
      limit: 1,
      scope: 'history flow/-/1',
    });
    expect(JSON.parse(Buffer.from(nextCursor ?? '', 'base64url').toString('utf8'))).toEqual({
      v: 1,
      s: 'history flow/-/1',
      p: [-2, 'evt_0123456789abcdef0123456789abcdef'],
    });
  });
});

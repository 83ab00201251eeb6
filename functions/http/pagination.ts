import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { onFirstUse } from '../../shared/on-first-use';
import { HttpError } from './http-error';

/**
 * A cursor's texts (its scope and each string of its position) are bounded in the unit the cursor
 * is made of, the bytes of their UTF-8 JSON form: a bound in characters let a record's non-ASCII
 * or escaped ids (a hand edit, another version) make a cursor longer than the one accepted back.
 * A longer text stands in the cursor, and in the order it pages by, as its digest.
 */
const MAX_TEXT_BYTES = 160;
const MAX_POSITION_ELEMENTS = 4;
/** Exactly the longest cursor encodeCursor can make: `{"v":1,"s":…,"p":[…]}` with every text at its bound. */
const MAX_CURSOR_LENGTH = Math.ceil(
  ((`{"v":1,"s":,"p":[]}`.length + MAX_TEXT_BYTES * (1 + MAX_POSITION_ELEMENTS) + MAX_POSITION_ELEMENTS - 1) *
    4) /
    3,
);

/** A keyset position: the sort key of the last item served, so inserts never shift a page. */
export type Position = readonly (string | number)[];

const fitsCursor = (text: string) => Buffer.byteLength(JSON.stringify(text), 'utf8') <= MAX_TEXT_BYTES;

function boundedText(text: string): string {
  return fitsCursor(text) ? text : `#sha256:${createHash('sha256').update(text, 'utf8').digest('base64url')}`;
}

/** The position as a cursor carries it; a number JSON cannot hold (never one a valid record gives) as 0. */
function cursorPosition(position: Position): Position {
  return position.map((element) =>
    typeof element === 'number' ? (Number.isFinite(element) ? element : 0) : boundedText(element),
  );
}

const cursorSchema = onFirstUse(() =>
  z.strictObject({
    v: z.literal(1),
    s: z.string().check(z.refine(fitsCursor)),
    p: z
      .array(z.union([z.string().check(z.refine(fitsCursor)), z.number()]))
      .check(z.minLength(1), z.maxLength(MAX_POSITION_ELEMENTS)),
  }),
);

/**
 * Opaque to clients (base64url JSON), but bound to the listing it came from (`scope`: route and
 * filters), so a cursor from one listing cannot page through another.
 */
function encodeCursor(scope: string, position: Position): string {
  return Buffer.from(JSON.stringify({ v: 1, s: boundedText(scope), p: position }), 'utf8').toString(
    'base64url',
  );
}

function invalidCursor(problem: string): HttpError {
  return new HttpError(
    400,
    'InvalidCursor',
    `cursor ${problem}: pass the nextCursor of the previous page unchanged, or omit it for the first page`,
  );
}

export function decodeCursor(raw: string | undefined, scope: string): Position | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) {
    throw invalidCursor('is not one this API issued');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('is not one this API issued');
  }
  const parsed = cursorSchema().safeParse(json);
  if (!parsed.success) throw invalidCursor('is not one this API issued');
  if (parsed.data.s !== boundedText(scope)) throw invalidCursor('belongs to another listing or filter');
  return parsed.data.p;
}

export function parseLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 1 && value <= max)) {
    throw new HttpError(400, 'InvalidParameter', `limit must be a whole number from 1 to ${max}`);
  }
  return value;
}

/** Orders positions as the listing does: element by element, numbers and strings ascending. */
function comparePositions(a: Position, b: Position): number {
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const left = a[index];
    const right = b[index];
    if (left === right) continue;
    if (left === undefined) return -1;
    if (right === undefined) return 1;
    if (typeof left === 'number' && typeof right === 'number') return left - right;
    return String(left) < String(right) ? -1 : 1;
  }
  return 0;
}

/**
 * One page of `items` in the order of their positions, starting after `after`; `nextCursor` is
 * null on the last page. Sorted here, by the positions the cursors carry, not taken as stored:
 * paging keeps only what comes after the cursor, so an entry stored out of order (instances'
 * clocks, another version, a hand edit) would otherwise vanish between pages.
 */
export function page<T>(
  items: readonly T[],
  positionOf: (item: T) => Position,
  options: { after: Position | undefined; limit: number; scope: string },
): { items: T[]; nextCursor: string | null } {
  const after = options.after;
  const ordered = items
    .map((item) => ({ item, position: cursorPosition(positionOf(item)) }))
    .sort((a, b) => comparePositions(a.position, b.position));
  const rest = after ? ordered.filter((entry) => comparePositions(entry.position, after) > 0) : ordered;
  const served = rest.slice(0, options.limit);
  const last = served.at(-1);
  return {
    items: served.map((entry) => entry.item),
    nextCursor: rest.length > served.length && last ? encodeCursor(options.scope, last.position) : null,
  };
}

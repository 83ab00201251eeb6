import * as z from 'zod/mini';
import { onFirstUse } from '../../shared/on-first-use';
import { HttpError } from './http-error';

/** Far above any cursor this API issues; a longer one is rejected before decoding. */
const MAX_CURSOR_LENGTH = 512;

/** A keyset position: the sort key of the last item served, so inserts never shift a page. */
export type Position = readonly (string | number)[];

const cursorSchema = onFirstUse(() =>
  z.strictObject({
    v: z.literal(1),
    s: z.string().check(z.maxLength(300)),
    p: z
      .array(z.union([z.string().check(z.maxLength(300)), z.number()]))
      .check(z.minLength(1), z.maxLength(4)),
  }),
);

/**
 * Opaque to clients (base64url JSON), but bound to the listing it came from (`scope`: route and
 * filters), so a cursor from one listing cannot page through another.
 */
export function encodeCursor(scope: string, position: Position): string {
  return Buffer.from(JSON.stringify({ v: 1, s: scope, p: position }), 'utf8').toString('base64url');
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
  if (parsed.data.s !== scope) throw invalidCursor('belongs to another listing or filter');
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
export function comparePositions(a: Position, b: Position): number {
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
 * One page of `items` (already in listing order by `positionOf`), starting after `after`.
 * `nextCursor` is null on the last page.
 */
export function page<T>(
  items: readonly T[],
  positionOf: (item: T) => Position,
  options: { after: Position | undefined; limit: number; scope: string },
): { items: T[]; nextCursor: string | null } {
  const after = options.after;
  const rest = after ? items.filter((item) => comparePositions(positionOf(item), after) > 0) : [...items];
  const served = rest.slice(0, options.limit);
  const last = served.at(-1);
  return {
    items: served,
    nextCursor: rest.length > served.length && last ? encodeCursor(options.scope, positionOf(last)) : null,
  };
}

import * as z from 'zod/mini';
import '../../shared/zod-english';

/**
 * FC 3.0's HTTP trigger event (`version: "v1"`), which arrives as a Buffer of JSON. middy's
 * http-event-normalizer only knows AWS shapes, so the normalisation lives here.
 */
const valuesByName = z.nullish(z.record(z.string(), z.union([z.string(), z.array(z.string())])));

const fcHttpEventSchema = z.object({
  version: z.optional(z.string()),
  rawPath: z.optional(z.string()),
  body: z.nullish(z.string()),
  isBase64Encoded: z.nullish(z.boolean()),
  headers: valuesByName,
  queryParameters: valuesByName,
  // Every key optional already: no z.partial, which would build each object schema twice.
  requestContext: z.nullish(
    z.object({
      requestId: z.optional(z.string()),
      http: z.optional(z.object({ method: z.optional(z.string()), path: z.optional(z.string()) })),
    }),
  ),
});

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Lower-cased names; repeated headers arrive comma-joined from FC and stay so. */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export class BadEventError extends Error {
  override readonly name = 'BadEventError';
  readonly code = 'BadRequest';
}

function flatten(values: Record<string, string | string[]> | null | undefined, lowerCaseNames: boolean) {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values ?? {})) {
    out[lowerCaseNames ? name.toLowerCase() : name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

export function parseFcHttpEvent(event: unknown): HttpRequest {
  let json: unknown = event;
  if (Buffer.isBuffer(event) || event instanceof Uint8Array || typeof event === 'string') {
    try {
      json = JSON.parse(Buffer.from(event as Uint8Array | string).toString('utf8'));
    } catch {
      throw new BadEventError('the request event is not JSON');
    }
  }
  const parsed = fcHttpEventSchema.safeParse(json);
  if (!parsed.success) throw new BadEventError('the request event is not an FC HTTP trigger event');
  const fcEvent = parsed.data;
  const method = (fcEvent.requestContext?.http?.method ?? 'GET').toUpperCase();
  const path = fcEvent.rawPath ?? fcEvent.requestContext?.http?.path ?? '/';
  const rawBody = fcEvent.body ?? '';
  let body: Buffer;
  if (fcEvent.isBase64Encoded) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(rawBody) || rawBody.length % 4 !== 0) {
      throw new BadEventError('the request body is marked base64 but is not valid base64');
    }
    body = Buffer.from(rawBody, 'base64');
  } else {
    body = Buffer.from(rawBody, 'utf8');
  }
  return {
    method,
    path,
    headers: flatten(fcEvent.headers, true),
    query: flatten(fcEvent.queryParameters, false),
    body,
  };
}

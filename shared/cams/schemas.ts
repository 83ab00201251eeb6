import * as z from 'zod/mini';
import '../zod-english';
import { onFirstUse } from '../on-first-use';

/** Every CAMS answer, success or not, has these; `Code` is `OK` on success. */
export const envelopeSchema = onFirstUse(() =>
  z.object({
    RequestId: z.optional(z.string()),
    Code: z.optional(z.string()),
    Message: z.nullish(z.string()),
  }),
);

/** Largest epoch ms a Date can hold (ECMA-262 §21.4.1.22). */
const MAX_EPOCH_MS = 8.64e15;

function epochMsOrUndefined(value: unknown): number | undefined {
  const ms = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  return typeof ms === 'number' && Number.isInteger(ms) && ms > 0 && ms <= MAX_EPOCH_MS ? ms : undefined;
}

const nullableString = () =>
  z.pipe(
    z.nullish(z.string()),
    z.transform((value) => value ?? ''),
  );

const stringList = () =>
  z.pipe(
    z.nullish(z.array(z.string())),
    z.transform((value) => value ?? []),
  );

export const getFlowDataSchema = onFirstUse(() =>
  z.object({
    FlowId: z.string().check(z.minLength(1)),
    FlowName: nullableString(),
    // CAMS documents DRAFT/PUBLISHED/DEPRECATED; Meta also has THROTTLED/BLOCKED. Any other
    // string is carried as sent so a new status is reported, not rejected.
    Status: z.string().check(z.minLength(1)),
    Categories: stringList(),
    JSONVersion: nullableString(),
    DataApiVersion: nullableString(),
    PreviewUrl: nullableString(),
    // Epoch ms. A value that is no such time (malformed, negative, past year 275760) means no
    // expiry is known: the flow's status is still good, only its preview link is not cacheable.
    PreviewUrlExpires: z.pipe(z.unknown(), z.transform(epochMsOrUndefined)),
    EndpointUri: z.nullish(z.string()),
  }),
);

export const getFlowResponseSchema = onFirstUse(() =>
  z.extend(envelopeSchema(), { Data: getFlowDataSchema() }),
);

export const listFlowResponseSchema = onFirstUse(() =>
  z.extend(envelopeSchema(), {
    // Nullish here, refused by the client: a 200 without Data is no proof that a space is empty.
    Data: z.nullish(
      z.array(
        z.object({
          FlowId: z.string().check(z.minLength(1)),
          FlowName: nullableString(),
          Categories: stringList(),
        }),
      ),
    ),
  }),
);

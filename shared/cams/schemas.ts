import * as z from 'zod/mini';
import '../zod-english';

/** Every CAMS answer, success or not, has these; `Code` is `OK` on success. */
export const envelopeSchema = z.object({
  RequestId: z.optional(z.string()),
  Code: z.optional(z.string()),
  Message: z.nullish(z.string()),
});

const nullableString = z.pipe(
  z.nullish(z.string()),
  z.transform((value) => value ?? ''),
);

const stringList = z.pipe(
  z.nullish(z.array(z.string())),
  z.transform((value) => value ?? []),
);

export const getFlowDataSchema = z.object({
  FlowId: z.string().check(z.minLength(1)),
  FlowName: nullableString,
  // CAMS documents DRAFT/PUBLISHED/DEPRECATED; Meta also has THROTTLED/BLOCKED. Any other
  // string is carried as sent so a new status is reported, not rejected.
  Status: z.string().check(z.minLength(1)),
  Categories: stringList,
  JSONVersion: nullableString,
  DataApiVersion: nullableString,
  PreviewUrl: nullableString,
  PreviewUrlExpires: z.nullish(
    z.union([z.number(), z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number))]),
  ),
  EndpointUri: z.nullish(z.string()),
});

export const getFlowResponseSchema = z.extend(envelopeSchema, { Data: getFlowDataSchema });

export const listFlowResponseSchema = z.extend(envelopeSchema, {
  Data: z.pipe(
    z.nullish(
      z.array(
        z.object({
          FlowId: z.string().check(z.minLength(1)),
          FlowName: nullableString,
          Categories: stringList,
        }),
      ),
    ),
    z.transform((value) => value ?? []),
  ),
});

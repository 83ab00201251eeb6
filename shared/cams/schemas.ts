import { z } from 'zod';

/** Every CAMS answer, success or not, has these; `Code` is `OK` on success. */
export const envelopeSchema = z.object({
  RequestId: z.string().optional(),
  Code: z.string().optional(),
  Message: z.string().nullish(),
});

const nullableString = z
  .string()
  .nullish()
  .transform((value) => value ?? '');

export const getFlowDataSchema = z.object({
  FlowId: z.string().min(1),
  FlowName: nullableString,
  // CAMS documents DRAFT/PUBLISHED/DEPRECATED; Meta also has THROTTLED/BLOCKED. Any other
  // string is carried as sent so a new status is reported, not rejected.
  Status: z.string().min(1),
  Categories: z
    .array(z.string())
    .nullish()
    .transform((value) => value ?? []),
  JSONVersion: nullableString,
  DataApiVersion: nullableString,
  PreviewUrl: nullableString,
  PreviewUrlExpires: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).nullish(),
  EndpointUri: z.string().nullish(),
});

export const getFlowResponseSchema = envelopeSchema.extend({ Data: getFlowDataSchema });

export const listFlowResponseSchema = envelopeSchema.extend({
  Data: z
    .array(
      z.object({
        FlowId: z.string().min(1),
        FlowName: nullableString,
        Categories: z
          .array(z.string())
          .nullish()
          .transform((value) => value ?? []),
      }),
    )
    .nullish()
    .transform((value) => value ?? []),
});

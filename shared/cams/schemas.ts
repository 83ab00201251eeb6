import * as z from 'zod/mini';
import { toOneLine } from '../one-line';
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

/**
 * A status is an upper-case word: the reference says to carry any upper-case status CAMS may add
 * (Meta's THROTTLED, BLOCKED), and every documented one (DRAFT, PUBLISHED, DEPRECATED) is a letter
 * then letters, digits or `_`. 32 characters is four times the longest known. Anything else
 * (lower case, padding, markup, line breaks, kilobytes of text) is no status CAMS issues, and it
 * would travel into webhook bodies and chat-robot messages.
 */
export const FLOW_STATUS = /^[A-Z][A-Z0-9_]{0,31}$/;

/**
 * Neither CAMS nor Meta documents a limit; AWS's Meta-backed CreateWhatsAppFlow caps a flow name at
 * 200 characters and lists 9 categories, the longest 19 characters. Names and categories are
 * bounded, not refused: one line each (a line break or control character becomes a space), a name
 * cut at 256 characters and a category at 64 with "…", the first 16 categories kept. An odd name
 * must not cost the flow its status checks, nor one flow a whole ListFlow page; bounded, it cannot
 * carry kilobytes into webhook bodies (Feishu refuses bodies over 20 KB) or fake lines into chat
 * messages.
 */
export const MAX_FLOW_NAME_CHARS = 256;
export const MAX_CATEGORIES = 16;
export const MAX_CATEGORY_CHARS = 64;

/** A flow name as shown anywhere: CAMS's (or a stored one), bounded to one line. */
export const boundedFlowName = () =>
  z.pipe(
    z.nullish(z.string()),
    z.transform((value) => toOneLine(value ?? '', MAX_FLOW_NAME_CHARS)),
  );

/** A flow's categories as shown anywhere: the first 16, each bounded to one line. */
export const boundedCategories = () =>
  z.pipe(
    z.nullish(z.array(z.string())),
    z.transform((values) =>
      (values ?? []).slice(0, MAX_CATEGORIES).map((value) => toOneLine(value, MAX_CATEGORY_CHARS)),
    ),
  );

export const getFlowDataSchema = onFirstUse(() =>
  z.object({
    FlowId: z.string().check(z.minLength(1)),
    FlowName: boundedFlowName(),
    Status: z.string().check(z.regex(FLOW_STATUS)),
    Categories: boundedCategories(),
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

const listFlowEntryFieldsSchema = onFirstUse(() =>
  z.object({
    FlowId: z.string().check(z.minLength(1)),
    FlowName: boundedFlowName(),
    Categories: boundedCategories(),
  }),
);

/**
 * One ListFlow entry, parsed on its own: an entry CAMS sends without a usable FlowId (`""`, null,
 * a number, not an object at all) becomes one with an empty FlowId, which the caller counts with
 * the other ids no GetFlow takes; a name or categories of the wrong type are left out. One bad
 * entry must not cost the page, nor a listing the pages before it.
 */
const listFlowEntrySchema = onFirstUse(() =>
  z.pipe(
    z.unknown(),
    z.transform((entry) => {
      const parsed = listFlowEntryFieldsSchema().safeParse(entry);
      if (parsed.success) return parsed.data;
      const flowId = (entry as { FlowId?: unknown } | null)?.FlowId;
      return { FlowId: typeof flowId === 'string' ? flowId : '', FlowName: '', Categories: [] as string[] };
    }),
  ),
);

export const listFlowResponseSchema = onFirstUse(() =>
  z.extend(envelopeSchema(), {
    // Nullish here, refused by the client: a 200 without Data is no proof that a space is empty.
    Data: z.nullish(z.array(listFlowEntrySchema())),
  }),
);

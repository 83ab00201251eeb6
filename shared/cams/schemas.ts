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
 * 200 characters and lists 9 categories, the longest 19 characters. The caps leave room above
 * those and keep a hostile answer from carrying kilobytes into webhook bodies (Feishu refuses
 * bodies over 20 KB). Names and categories are one line of text: they are shown in chat messages.
 */
export const MAX_FLOW_NAME_CHARS = 256;
export const MAX_CATEGORIES = 16;
export const MAX_CATEGORY_CHARS = 64;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const ONE_LINE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/;

/** A line of at most `maxChars` characters: how a flow name or category is checked wherever it is read. */
export const oneLine = (maxChars: number) => z.string().check(z.maxLength(maxChars), z.regex(ONE_LINE));

const flowName = () =>
  z.pipe(
    z.nullish(oneLine(MAX_FLOW_NAME_CHARS)),
    z.transform((value) => value ?? ''),
  );

const categories = () =>
  z.pipe(
    z.nullish(z.array(oneLine(MAX_CATEGORY_CHARS)).check(z.maxLength(MAX_CATEGORIES))),
    z.transform((value) => value ?? []),
  );

export const getFlowDataSchema = onFirstUse(() =>
  z.object({
    FlowId: z.string().check(z.minLength(1)),
    FlowName: flowName(),
    Status: z.string().check(z.regex(FLOW_STATUS)),
    Categories: categories(),
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
          // Checked entry by entry by the caller (one unusable id does not cost the page).
          FlowId: z.string().check(z.minLength(1)),
          FlowName: flowName(),
          Categories: categories(),
        }),
      ),
    ),
  }),
);

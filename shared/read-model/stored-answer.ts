import * as z from 'zod/mini';
import type { Flow } from '../cams';
import { boundedCategories, boundedFlowName, FLOW_STATUS } from '../cams/schemas';

/** A GetFlow answer kept in the state store, with when it was read from CAMS. */
export interface StoredAnswer {
  readonly flow: Flow;
  /** Epoch ms at which CAMS answered. */
  readonly readAt: number;
  /**
   * Poller answers only: epoch ms at which the poller's schedule checks this flow next (its
   * status's POLL_INTERVALS entry after `readAt`). Until then, nothing fresher is known.
   */
  readonly nextCheckAt?: number | undefined;
}

// The same rules as a GetFlow answer (shared/cams/schemas.ts): a status that is no upper-case
// word makes an entry no answer; a name or categories written unbounded (by an older version, or
// anyone else) are served bounded, as CAMS's own would be.
const flowSchema = z.object({
  flowId: z.string().check(z.minLength(1)),
  flowName: boundedFlowName(),
  status: z.string().check(z.regex(FLOW_STATUS)),
  categories: boundedCategories(),
  jsonVersion: z.string(),
  dataApiVersion: z.string(),
  previewUrl: z.string(),
  // Absent when CAMS gave no usable expiry (see shared/cams/schemas.ts).
  previewUrlExpiresAt: z.optional(
    z.string().check(z.refine((value) => !Number.isNaN(Date.parse(value)), 'not a date')),
  ),
  endpointUri: z.optional(z.string()),
  requestId: z.string(),
});

const storedAnswerSchema = z.object({
  flow: flowSchema,
  readAt: z.int().check(z.nonnegative()),
  nextCheckAt: z.optional(z.int().check(z.nonnegative())),
});

/**
 * Validates an answer read back from the store (anyone with write access to the table could
 * have put anything there): the wrong flow, a malformed body or a read time in the future
 * (beyond clock skew) is no answer at all, never an error for the caller.
 */
export function parseStoredAnswer(value: unknown, flowId: string, nowMs: number): StoredAnswer | undefined {
  const parsed = storedAnswerSchema.safeParse(value);
  if (!parsed.success || parsed.data.flow.flowId !== flowId || parsed.data.readAt > nowMs + 1000) {
    return undefined;
  }
  const { nextCheckAt, ...answer } = parsed.data;
  return nextCheckAt !== undefined && nextCheckAt >= answer.readAt ? { ...answer, nextCheckAt } : answer;
}

/** The HTTP function's shared cache entry for a flow no poller answer covers. */
export function sharedCacheKey(flowId: string, custSpaceId: string | undefined): string {
  return `cache/${custSpaceId ?? '-'}/${flowId}`;
}

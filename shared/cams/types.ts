/**
 * The contract of the GetFlow core: what callers (the HTTP function, the poller, the local runner,
 * benchmarks) may rely on. Implementations live beside this file; callers import from `./index.ts`.
 */

/** RAM role (STS) or access-key credentials. Read from FC's context on every invocation, never cached past it. */
export interface Credentials {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken?: string | undefined;
}

/** A flow as GetFlow describes it, camelCased and validated. Unknown upper-case status words are kept as sent. */
export interface Flow {
  readonly flowId: string;
  readonly flowName: string;
  readonly status: string;
  readonly categories: readonly string[];
  readonly jsonVersion: string;
  readonly dataApiVersion: string;
  readonly previewUrl: string;
  /** ISO 8601, from CAMS's epoch-milliseconds `PreviewUrlExpires`; absent when CAMS gave no usable one. */
  readonly previewUrlExpiresAt?: string | undefined;
  readonly endpointUri?: string | undefined;
  readonly requestId: string;
}

/** One entry of ListFlow: CAMS lists no status, so listing discovers flows but cannot poll them. */
export interface FlowSummary {
  readonly flowId: string;
  readonly flowName: string;
  readonly categories: readonly string[];
}

export interface FlowPage {
  readonly flows: readonly FlowSummary[];
  readonly requestId: string;
}

export interface GetFlowInput {
  readonly flowId: string;
  readonly custSpaceId?: string | undefined;
}

export interface ListFlowInput {
  readonly custSpaceId?: string | undefined;
  /** 1-based page index. */
  readonly pageIndex: number;
  readonly pageSize: number;
}

/** Reported once per HTTP attempt, so callers can count CAMS calls and throttling per request. */
export interface CamsAttempt {
  readonly action: 'GetFlow' | 'ListFlow';
  readonly attempt: number;
  /** `OK`, or the error code of the failed attempt (e.g. `System.LimitControl`, `Timeout`). */
  readonly code: string;
  readonly durationMs: number;
}

/** A slot one attempt holds; its holder settles it exactly once, when the answer (or failure) is in. */
export interface CallSlot {
  /** The attempt's answer, failure, timeout or abort has arrived. Calls after the first do nothing. */
  settle(): void;
  /**
   * A new connection to CAMS finished being set up at `atMs` while the attempt was in flight, so a
   * request may reach CAMS only now (the client tells every attempt in flight: it cannot tell
   * which one the connection is for). Optional: a slot that counts nothing by arrival ignores it.
   */
  connected?(atMs: number): void;
}

/** Something every attempt takes a slot from before it starts (a local limiter, the account's shared budget). */
export interface CallBudget {
  /**
   * Resolves when the attempt may start, with the slot to settle once it is over. Rejects with
   * RateLimitWaitTooLongError, without taking a slot, when it could only start after `latestStartAt`.
   */
  acquire(options?: {
    signal?: AbortSignal | undefined;
    latestStartAt?: number | undefined;
  }): Promise<CallSlot>;
}

export interface CallOptions {
  readonly credentials: Credentials;
  /** Aborts the call, including waits for the rate limiter and retry backoff. */
  readonly signal?: AbortSignal | undefined;
  /** Absolute epoch-ms deadline; no attempt or backoff is started that cannot finish before it. */
  readonly deadlineMs?: number | undefined;
  readonly onAttempt?: ((attempt: CamsAttempt) => void) | undefined;
  /** Taken by every attempt, retries included, after the client's own limiter. */
  readonly budget?: CallBudget | undefined;
  /** At most this many attempts for this call (never more than the client's own maximum). */
  readonly maxAttempts?: number | undefined;
}

export interface CamsClient {
  getFlow(input: GetFlowInput, options: CallOptions): Promise<Flow>;
  listFlows(input: ListFlowInput, options: CallOptions): Promise<FlowPage>;
}

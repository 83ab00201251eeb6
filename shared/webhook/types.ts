export type WebhookFormat = 'standard' | 'meta' | 'dingtalk' | 'feishu' | 'slack';

export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['standard', 'meta', 'dingtalk', 'feishu', 'slack'];

export interface WebhookEndpoint {
  /** Stable short hash of the url; safe to log (never contains the url's secrets). */
  id: string;
  url: string;
  format: WebhookFormat;
  secret?: string | undefined;
}

export interface FlowEventData {
  flowId: string;
  custSpaceId?: string;
  flowName: string;
  previousStatus?: string;
  status?: string;
  observedAt: string;
  previousObservedAt?: string;
}

export interface FlowEvent {
  id: string;
  type: 'flow.status_changed' | 'flow.removed';
  /** ISO 8601 of the observation. */
  timestamp: string;
  data: FlowEventData;
}

export type DeliveryOutcome =
  | { kind: 'delivered'; httpStatus: number }
  | { kind: 'gone'; httpStatus: 410 }
  | {
      kind: 'retry';
      httpStatus?: number;
      retryAfterMs?: number;
      reason: string;
      /** Nothing was sent: the event could not be built (says nothing about the receiver). */
      isUnsent?: true;
      /** Given up at the run's end before an answer came (says nothing about the receiver). */
      isAbandoned?: true;
    };

/** One HTTP request a format wants sent. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** How one receiver family wants events shaped, signed and judged. */
export interface FormatAdapter {
  /**
   * The receiver checks a signature header made with WEBHOOK_SECRET, so its 401/403 most likely means
   * the secrets differ. Robots check their signature in the body or query and answer 200 with a code.
   */
  readonly hasSignatureHeader?: true;
  build(event: FlowEvent, endpoint: WebhookEndpoint, nowMs: number): WebhookRequest;
  /** Judges a 2xx answer by its body; robots answer 200 even when they refuse a message. */
  judgeSuccess?(httpStatus: number, bodyText: string): DeliveryOutcome;
}

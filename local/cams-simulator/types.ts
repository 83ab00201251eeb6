import type { Credentials } from '../../shared/cams/types';
import type { Clock } from '../../shared/clock';
import type { ConnectionWatch } from '../connections';

export interface SimFlow {
  readonly flowId: string;
  readonly custSpaceId?: string | undefined;
  readonly flowName: string;
  readonly status: string;
  readonly categories?: readonly string[] | undefined;
  readonly jsonVersion?: string | undefined;
  readonly dataApiVersion?: string | undefined;
  readonly endpointUri?: string | undefined;
  /** How long each generated preview URL stays valid. Default one hour. */
  readonly previewUrlTtlMs?: number | undefined;
}

export interface SimAccount {
  readonly accountId: string;
  readonly credentials: readonly Credentials[];
  readonly flows?: readonly SimFlow[] | undefined;
}

export type SimFault =
  /** The answer leaves `ms` after the request arrived (and was counted). */
  | { readonly kind: 'latency'; readonly ms: number }
  /**
   * The request spends `ms` on its way (a slow network path, a stalled connection): CAMS
   * counts, checks and answers it only when it arrives, on the simulator's clock.
   */
  | { readonly kind: 'transit'; readonly ms: number }
  | { readonly kind: 'http-status'; readonly httpStatus: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'ok-with-code'; readonly code: string }
  /**
   * The answer CAMS would give, rewritten before it is sent: a JSON value to send instead, or a
   * string sent as the raw body (hostile or broken answers; `httpStatus` defaults to 200).
   */
  | {
      readonly kind: 'answer';
      readonly rewrite: (answer: Record<string, unknown>) => unknown;
      readonly httpStatus?: number | undefined;
    }
  /**
   * The answer is read from the flow book on arrival (as CAMS would) but sent only once
   * `release` settles: a reply delayed on the way back, carrying the status of its arrival.
   */
  | {
      readonly kind: 'late-answer';
      readonly release: Promise<unknown>;
      readonly onArrived?: (() => void) | undefined;
    };

export interface SimFaultMatch {
  readonly action?: 'GetFlow' | 'ListFlow' | undefined;
  readonly flowId?: string | undefined;
  /** How many matching calls the fault hits; unlimited until `clearFaults` when absent. */
  readonly times?: number | undefined;
  /** The fault hits only calls arriving before this time on the simulator's clock (an outage's end). */
  readonly untilMs?: number | undefined;
}

export interface SimCall {
  readonly at: number;
  readonly action: string;
  readonly accessKeyId: string;
  readonly flowId?: string | undefined;
  readonly custSpaceId?: string | undefined;
  readonly httpStatus: number;
  readonly code: string;
}

export interface CamsSimulatorOptions {
  readonly port?: number | undefined;
  /** Calls per rolling second per account (default 5, as CAMS); `false` turns the limit off. */
  readonly rateLimit?: number | false | undefined;
  readonly clock?: Clock | undefined;
  /** Flows of the default account (the one SIMULATOR_CREDENTIALS belong to). */
  readonly flows?: readonly SimFlow[] | undefined;
  readonly accounts?: readonly SimAccount[] | undefined;
  /** Serve https with this key and certificate, as CAMS's endpoints do (the cold-start bench). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer } | undefined;
}

export interface CamsSimulator {
  /** `http://127.0.0.1:<port>`, or `https://` with `tls`. */
  readonly endpoint: string;
  setFlow(flow: SimFlow): void;
  setStatus(flowId: string, status: string, custSpaceId?: string): void;
  /** Statuses to take on over time, `afterMs` counted from this call on the simulator's clock. */
  scriptStatus(
    flowId: string,
    steps: ReadonlyArray<{ afterMs: number; status: string }>,
    custSpaceId?: string,
  ): void;
  deleteFlow(flowId: string, custSpaceId?: string): void;
  injectFault(fault: SimFault, match?: SimFaultMatch): void;
  clearFaults(): void;
  setRateLimit(limit: number | false): void;
  /** Every request, in arrival order. Never holds secrets. */
  readonly calls: readonly SimCall[];
  readonly connections: ConnectionWatch;
  close(): Promise<void>;
}

import type { DeliveryOutcome } from '../webhook';

/**
 * No HTTP answer at all: the attempt timed out, or the connection was refused, reset or aborted.
 * An event that could not be built was never sent, so it says nothing about the receiver.
 */
export function isTransportFailure(outcome: DeliveryOutcome): boolean {
  return (
    outcome.kind === 'retry' && outcome.httpStatus === undefined && !outcome.isUnsent && !outcome.isAbandoned
  );
}

/**
 * What one run has learned about each webhook endpoint. A receiver that accepts connections and
 * never answers costs the publisher's whole timeout (15 s) per attempt, so after one failure
 * without an HTTP answer the endpoint is not tried again in this run, for any flow: its events
 * stay owed, uncharged, for the next run. Until an endpoint has answered once in the run, one
 * attempt at a time goes to it, so concurrent deliveries do not each wait out the same hang.
 * An HTTP answer, even a 5xx, proves it reachable; such failures stay per flow (the receiver may
 * refuse one event and take the next).
 */
export class EndpointHealth {
  readonly #unreachable = new Map<string, string>();
  readonly #answered = new Set<string>();
  readonly #probes = new Map<string, Promise<unknown>>();

  /**
   * `send`'s outcome, or 'skipped' when the endpoint is unreachable this run and was not tried
   * (`send` may decline too, say once the run has reached its end while this attempt waited).
   */
  async attempt(
    endpointId: string,
    send: () => Promise<DeliveryOutcome | 'skipped'>,
  ): Promise<DeliveryOutcome | 'skipped'> {
    for (;;) {
      if (this.#unreachable.has(endpointId)) return 'skipped';
      if (this.#answered.has(endpointId)) return this.#learn(endpointId, await send());
      const probe = this.#probes.get(endpointId);
      if (!probe) break;
      await probe;
    }
    const pending = send();
    this.#probes.set(
      endpointId,
      pending.catch(() => undefined),
    );
    try {
      return this.#learn(endpointId, await pending);
    } finally {
      this.#probes.delete(endpointId);
    }
  }

  /** Endpoints found unreachable in this run, with the reason of the failure that showed it. */
  unreachable(): ReadonlyMap<string, string> {
    return this.#unreachable;
  }

  #learn(endpointId: string, outcome: DeliveryOutcome | 'skipped'): DeliveryOutcome | 'skipped' {
    if (outcome === 'skipped') return outcome;
    if (isTransportFailure(outcome)) {
      if (!this.#unreachable.has(endpointId) && outcome.kind === 'retry')
        this.#unreachable.set(endpointId, outcome.reason);
    } else {
      this.#answered.add(endpointId);
    }
    return outcome;
  }
}

import type { DeliveryOutcome } from '../webhook';

/** A pass's first contact with an endpoint: `settled` resolves when it ends. */
interface Contact {
  readonly settled: Promise<void>;
  readonly settle: () => void;
}

/** A pass's claim on the endpoints it is about to contact first. */
export interface FirstContactClaim {
  /**
   * The pass attempts `endpointId` now: its claims on its other endpoints end, since it contacts
   * them only after this attempt (which may hang for a whole timeout), and a pass owed only to
   * one of those need not wait for it.
   */
  attempting(endpointId: string): void;
  /** The pass has ended: every claim it still holds ends. */
  end(): void;
}

/**
 * No HTTP answer at all: the attempt timed out, or the connection was refused, reset or aborted.
 * An event that could not be built was never sent, so it says nothing about the receiver.
 */
export function isTransportFailure(outcome: DeliveryOutcome): boolean {
  return (
    outcome.kind === 'retry' && outcome.httpStatus === undefined && !outcome.isUnsent && !outcome.isAbandoned
  );
}

/** A receiver's Retry-After: nothing is sent to the endpoint before `until` (epoch ms). */
export interface EndpointPause {
  readonly endpointId: string;
  readonly until: number;
  readonly httpStatus: number;
}

/**
 * What one run has learned about each webhook endpoint. A receiver that accepts connections and
 * never answers costs the publisher's whole timeout (15 s) per attempt, so after one failure
 * without an HTTP answer the endpoint is not tried again in this run, for any flow: its events
 * stay owed, uncharged, for the next run. Until an endpoint has answered once in the run, one
 * attempt at a time goes to it, so concurrent deliveries do not each wait out the same hang.
 * An HTTP answer, even a 5xx, proves it reachable; such failures stay per flow (the receiver may
 * refuse one event and take the next). But an answer with a Retry-After ("slow down", a 429 or
 * 503 most often) pauses the whole endpoint: no flow's event is sent to it before then, and those
 * events stay owed, uncharged. Earlier runs' pauses come from the store (see `pause`).
 *
 * The same holds one step earlier, for whole passes over a flow's owed events: a pass takes the
 * flow's delivery lease (a store write, and another to give it back) before its first attempt, so
 * while one pass makes first contact with an endpoint, a pass that would send only to endpoints
 * under first contact waits for their outcome instead of leasing its flow only to skip them all.
 */
export class EndpointHealth {
  readonly #unreachable = new Map<string, string>();
  readonly #answered = new Set<string>();
  readonly #probes = new Map<string, Promise<unknown>>();
  readonly #contacts = new Map<string, Contact>();
  readonly #pausedUntil = new Map<string, number>();
  readonly #newPauses = new Map<string, EndpointPause>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * `send`'s outcome, or 'skipped' when the endpoint is unreachable this run and was not tried
   * (`send` may decline too, say once the run has reached its end while this attempt waited).
   */
  async attempt(
    endpointId: string,
    send: () => Promise<DeliveryOutcome | 'skipped'>,
  ): Promise<DeliveryOutcome | 'skipped'> {
    for (;;) {
      if (this.isHeldBack(endpointId)) return 'skipped';
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

  /** Whether nothing is sent to `endpointId` now: unreachable this run, or paused by a Retry-After. */
  isHeldBack(endpointId: string): boolean {
    return this.#unreachable.has(endpointId) || (this.#pausedUntil.get(endpointId) ?? 0) > this.#now();
  }

  /**
   * Nothing is sent to `endpointId` before `until` (a pause an earlier run saved, or an answer's
   * Retry-After); true when that is later than the pause it had.
   */
  pause(endpointId: string, until: number): boolean {
    if (until <= (this.#pausedUntil.get(endpointId) ?? 0)) return false;
    this.#pausedUntil.set(endpointId, until);
    return true;
  }

  /** The pauses this run's answers asked for since the last call, for later runs to respect too. */
  takeNewPauses(): EndpointPause[] {
    const pauses = [...this.#newPauses.values()];
    this.#newPauses.clear();
    return pauses;
  }

  /**
   * Before a pass that would send to `endpointIds`: resolves once there is news (one of them
   * answered, found unreachable, or its first contact ended) when every one of them that is not
   * unreachable has not answered yet and is under another pass's first contact; undefined when
   * the pass may go ahead now.
   */
  firstContactUnderway(endpointIds: Iterable<string>): Promise<void> | undefined {
    const waits: Array<Promise<void>> = [];
    for (const endpointId of endpointIds) {
      if (this.#unreachable.has(endpointId)) continue;
      const contact = this.#contacts.get(endpointId);
      if (this.#answered.has(endpointId) || !contact) return undefined;
      waits.push(contact.settled);
    }
    return waits.length > 0 ? Promise.race(waits) : undefined;
  }

  /**
   * Makes the calling pass the first contact of those of `endpointIds` that have not answered yet
   * and have none, until its first attempt (see FirstContactClaim.attempting) or its end.
   */
  claimFirstContact(endpointIds: Iterable<string>): FirstContactClaim {
    const claimed: Array<[string, Contact]> = [];
    for (const endpointId of endpointIds) {
      if (this.#answered.has(endpointId) || this.#unreachable.has(endpointId)) continue;
      if (this.#contacts.has(endpointId)) continue;
      let settle = () => {};
      const settled = new Promise<void>((resolve) => {
        settle = resolve;
      });
      const contact = { settled, settle };
      this.#contacts.set(endpointId, contact);
      claimed.push([endpointId, contact]);
    }
    return {
      attempting: (endpointId) => {
        for (const [claimedId, contact] of claimed) {
          if (claimedId !== endpointId) this.#endContact(claimedId, contact);
        }
      },
      end: () => {
        for (const [endpointId, contact] of claimed) this.#endContact(endpointId, contact);
      },
    };
  }

  #endContact(endpointId: string, contact = this.#contacts.get(endpointId)): void {
    if (!contact || this.#contacts.get(endpointId) !== contact) return;
    this.#contacts.delete(endpointId);
    contact.settle();
  }

  #learn(endpointId: string, outcome: DeliveryOutcome | 'skipped'): DeliveryOutcome | 'skipped' {
    if (outcome === 'skipped') return outcome;
    if (isTransportFailure(outcome)) {
      if (!this.#unreachable.has(endpointId) && outcome.kind === 'retry')
        this.#unreachable.set(endpointId, outcome.reason);
    } else {
      this.#answered.add(endpointId);
      if (outcome.kind === 'retry' && outcome.httpStatus !== undefined && (outcome.retryAfterMs ?? 0) > 0) {
        const until = this.#now() + (outcome.retryAfterMs ?? 0);
        if (this.pause(endpointId, until)) {
          this.#newPauses.set(endpointId, { endpointId, until, httpStatus: outcome.httpStatus });
        }
      }
    }
    // Whichever it was, a pass waiting on this endpoint's first contact can now decide.
    if (this.#answered.has(endpointId) || this.#unreachable.has(endpointId)) this.#endContact(endpointId);
    return outcome;
  }
}

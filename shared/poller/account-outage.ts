import { CamsError } from '../cams';
import type { Clock } from '../clock';

/**
 * Codes that say the account cannot be served at all (credentials, permission, subscription, the
 * host's clock): every flow would get the same answer, so they say nothing about the flow.
 */
const ACCOUNT_CODES = new Set([
  'Product.Unsubscript',
  'Ram.PermissionDeny',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId.NotFound',
  'InvalidTimeStamp.Expired',
  'MissingCredentials',
]);

/**
 * True when a failed check says something about CAMS or the account rather than the flow: what
 * the client retried (5xx, 429, throttling, timeouts, connections) and then gave up on, and the
 * account-wide codes above. Anything else (a malformed answer for this flow, a code CAMS gave
 * only this flow) is the flow's own, and the flow backs off on its own.
 */
export function isAccountCondition(error: unknown): boolean {
  if (error instanceof CamsError) {
    return error.retryable || ACCOUNT_CODES.has(error.code) || error.code.startsWith('InvalidSecurityToken');
  }
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    ACCOUNT_CODES.has(String((error as { code: unknown }).code))
  );
}

/** Account failures in a row, with no answer between them, that make the run probe instead. */
export const OUTAGE_AFTER_FAILURES = 3;
const FIRST_PROBE_DELAY_MS = 2000;
/**
 * Longest wait between probes: recovery is seen within this (plus the client's retries), half
 * the shortest default interval, at about 4 probes a minute while CAMS stays down.
 */
export const MAX_PROBE_DELAY_MS = 15_000;

export type CheckVerdict = 'answered' | 'account-failure' | 'unknown';

/**
 * Keeps an account-wide outage from costing every flow its own backoff, and from costing CAMS a
 * call per due flow. While CAMS answers, checks run side by side. After OUTAGE_AFTER_FAILURES
 * account failures in a row, and at the start of every run (the previous run may have ended in
 * an outage), one check at a time goes as a probe, spaced 2 s, 4 s, 8 s … up to 15 s apart
 * after failures; the first answer opens the run up again, most overdue flows first. A flow's
 * own bad answer counts as an answer: CAMS is up.
 */
export class OutageGate {
  readonly #clock: Clock;
  #isProbing = true;
  #isProbeInFlight = false;
  #failuresInRow = 0;
  #failedProbes = 0;
  #probeAt = Number.NEGATIVE_INFINITY;
  readonly #waiting = new Set<AbortController>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get isProbing(): boolean {
    return this.#isProbing;
  }

  /** How long a worker must wait before starting a check: 0 to go now. */
  waitMs(): number {
    if (!this.#isProbing) return 0;
    if (this.#isProbeInFlight) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.#probeAt - this.#clock.now());
  }

  /** Called as a check starts; while probing, it is the probe. */
  starting(): void {
    if (this.#isProbing) this.#isProbeInFlight = true;
  }

  /**
   * Called as a check ends. Returns `probing` when this verdict started probing, `reopened` when
   * it ended probing after a failed probe (CAMS is back).
   */
  finished(verdict: CheckVerdict, wasProbe: boolean): 'probing' | 'reopened' | undefined {
    if (wasProbe) this.#isProbeInFlight = false;
    let transition: 'probing' | 'reopened' | undefined;
    if (verdict === 'answered') {
      if (this.#isProbing && this.#failedProbes > 0) transition = 'reopened';
      this.#isProbing = false;
      this.#failuresInRow = 0;
      this.#failedProbes = 0;
    } else if (verdict === 'account-failure') {
      this.#failuresInRow += 1;
      if (wasProbe || (!this.#isProbing && this.#failuresInRow >= OUTAGE_AFTER_FAILURES)) {
        if (!this.#isProbing) transition = 'probing';
        this.#isProbing = true;
        this.#failedProbes += 1;
        this.#probeAt =
          this.#clock.now() +
          Math.min(MAX_PROBE_DELAY_MS, FIRST_PROBE_DELAY_MS * 2 ** (this.#failedProbes - 1));
      }
    }
    this.#wake();
    return transition;
  }

  /**
   * Waits until a check's verdict may let the caller go, and at most `ms` when that is finite.
   * A probe in flight is waited for on its verdict alone, not on the clock: nothing but the
   * verdict can end that wait, and a test's virtual clock must not run ahead meanwhile.
   */
  async wait(ms: number): Promise<void> {
    const wake = new AbortController();
    this.#waiting.add(wake);
    const woken = new Promise<void>((resolve) => wake.signal.addEventListener('abort', () => resolve()));
    try {
      if (!Number.isFinite(ms)) return await woken;
      await this.#clock.sleep(Math.max(1, ms), wake.signal);
    } catch {
      // Woken early: the caller looks again.
    } finally {
      this.#waiting.delete(wake);
    }
  }

  #wake(): void {
    for (const wake of this.#waiting) wake.abort();
    this.#waiting.clear();
  }
}

import { describe, expect, it } from 'vitest';
import { EndpointHealth } from '../../shared/poller/endpoint-health';
import type { DeliveryOutcome } from '../../shared/webhook';

const ok: DeliveryOutcome = { kind: 'delivered', httpStatus: 204 };

/** A send whose outcome the test decides later, to see what waits on it. */
function pendingSend() {
  let settle: (outcome: DeliveryOutcome) => void = () => undefined;
  const sent = { count: 0 };
  const send = () => {
    sent.count += 1;
    return new Promise<DeliveryOutcome>((resolve) => {
      settle = resolve;
    });
  };
  return { send, sent, settle: (outcome: DeliveryOutcome) => settle(outcome) };
}

describe('endpoint health', () => {
  it.each([
    ['a timeout', { kind: 'retry', reason: 'timeout' }],
    ['a refused connection', { kind: 'retry', reason: 'connection failed: ECONNREFUSED' }],
  ] as const)('after %s the endpoint is not tried again in the run', async (_name, failure) => {
    const health = new EndpointHealth();
    expect(await health.attempt('a', async () => failure)).toEqual(failure);
    let tried = 0;
    expect(
      await health.attempt('a', async () => {
        tried += 1;
        return ok;
      }),
    ).toBe('skipped');
    expect(tried).toBe(0);
    expect([...health.unreachable()]).toEqual([['a', failure.reason]]);
    expect(await health.attempt('b', async () => ok)).toEqual(ok);
  });

  it.each([
    [
      'an event that could not be built (nothing sent)',
      { kind: 'retry', reason: 'cannot be built', isUnsent: true },
    ],
    [
      'an attempt abandoned at the end of the run',
      { kind: 'retry', reason: 'abandoned at the end of the run', isAbandoned: true },
    ],
  ] as const)('%s says nothing about the endpoint', async (_name, outcome) => {
    const health = new EndpointHealth();
    expect(await health.attempt('a', async () => outcome)).toEqual(outcome);
    expect(await health.attempt('a', async () => 'skipped')).toBe('skipped');
    expect(await health.attempt('a', async () => ok)).toEqual(ok);
    expect(health.unreachable().size).toBe(0);
  });

  it('an answer with a Retry-After pauses the endpoint for every flow until then, once, and a pause read back does too', async () => {
    let now = 1_000_000;
    const health = new EndpointHealth(() => now);
    const slowDown: DeliveryOutcome = {
      kind: 'retry',
      httpStatus: 429,
      retryAfterMs: 5_000,
      reason: 'HTTP 429',
    };
    expect(await health.attempt('a', async () => slowDown)).toEqual(slowDown);
    expect(health.isHeldBack('a')).toBe(true);
    expect(await health.attempt('a', async () => ok)).toBe('skipped');
    expect(health.takeNewPauses()).toEqual([{ endpointId: 'a', until: 1_005_000, httpStatus: 429 }]);
    expect(health.takeNewPauses()).toEqual([]);
    expect(health.unreachable().size).toBe(0);
    now += 5_000;
    expect(await health.attempt('a', async () => ok)).toEqual(ok);

    health.pause('b', now + 60_000);
    expect(await health.attempt('b', async () => ok)).toBe('skipped');
    expect(health.takeNewPauses()).toEqual([]);
    // A 429 without Retry-After (or Retry-After: 0) stays the answered event's own backoff.
    const plain: DeliveryOutcome = { kind: 'retry', httpStatus: 429, reason: 'HTTP 429' };
    expect(await health.attempt('c', async () => plain)).toEqual(plain);
    expect(await health.attempt('c', async () => ok)).toEqual(ok);
  });

  it('an HTTP answer, even a 503, keeps the endpoint in use (its failures stay per flow)', async () => {
    const health = new EndpointHealth();
    const refused: DeliveryOutcome = { kind: 'retry', httpStatus: 503, reason: 'HTTP 503' };
    expect(await health.attempt('a', async () => refused)).toEqual(refused);
    expect(await health.attempt('a', async () => ok)).toEqual(ok);
    expect(health.unreachable().size).toBe(0);
  });

  it('sends one attempt at a time to an endpoint that has not answered yet; the others skip if it hangs', async () => {
    const health = new EndpointHealth();
    const probe = pendingSend();
    const first = health.attempt('a', probe.send);
    const others = [pendingSend(), pendingSend()];
    const waiting = others.map((other) => health.attempt('a', other.send));
    await new Promise((resolve) => setImmediate(resolve));
    expect(probe.sent.count).toBe(1);
    expect(others.map((other) => other.sent.count)).toEqual([0, 0]);
    probe.settle({ kind: 'retry', reason: 'timeout' });
    expect(await first).toEqual({ kind: 'retry', reason: 'timeout' });
    expect(await Promise.all(waiting)).toEqual(['skipped', 'skipped']);
    expect(others.map((other) => other.sent.count)).toEqual([0, 0]);
  });

  it('once the endpoint has answered, attempts to it run side by side', async () => {
    const health = new EndpointHealth();
    expect(await health.attempt('a', async () => ok)).toEqual(ok);
    const sends = [pendingSend(), pendingSend()];
    const attempts = sends.map((entry) => health.attempt('a', entry.send));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sends.map((entry) => entry.sent.count)).toEqual([1, 1]);
    for (const entry of sends) entry.settle(ok);
    expect(await Promise.all(attempts)).toEqual([ok, ok]);
  });

  it("a pass owed only to endpoints under another pass's first contact waits for its outcome", async () => {
    const health = new EndpointHealth();
    expect(health.firstContactUnderway(['a'])).toBeUndefined();
    const claim = health.claimFirstContact(['a']);
    const underway = health.firstContactUnderway(['a']);
    expect(underway).toBeInstanceOf(Promise);
    // Another endpoint it may send to now: no wait.
    expect(health.firstContactUnderway(['a', 'b'])).toBeUndefined();
    // The first contact's answer ends the wait, before its pass ends.
    expect(await health.attempt('a', async () => ({ kind: 'retry', reason: 'timeout' }))).toMatchObject({
      kind: 'retry',
    });
    await underway;
    expect(health.unreachable().has('a')).toBe(true);
    expect(health.firstContactUnderway(['a'])).toBeUndefined();
    claim.end();
  });

  it('a pass that attempts one of its endpoints ends its claims on the others, which it contacts only after that attempt', async () => {
    const health = new EndpointHealth();
    const claim = health.claimFirstContact(['f', 'e']);
    const waitingForE = health.firstContactUnderway(['e']);
    expect(waitingForE).toBeInstanceOf(Promise);
    // Its first attempt goes to f (which may hang a whole timeout): a pass owed only to e goes ahead.
    claim.attempting('f');
    await waitingForE;
    expect(health.firstContactUnderway(['e'])).toBeUndefined();
    expect(health.firstContactUnderway(['f'])).toBeInstanceOf(Promise);
    claim.end();
    expect(health.firstContactUnderway(['f'])).toBeUndefined();
  });

  it('a first contact that ended without an answer lets the next pass claim the endpoint', async () => {
    const health = new EndpointHealth();
    const first = health.claimFirstContact(['a']);
    const underway = health.firstContactUnderway(['a']);
    first.end();
    await underway;
    expect(health.firstContactUnderway(['a'])).toBeUndefined();
    const second = health.claimFirstContact(['a']);
    expect(health.firstContactUnderway(['a'])).toBeInstanceOf(Promise);
    // The first pass's late release does not end the second's contact.
    first.end();
    expect(health.firstContactUnderway(['a'])).toBeInstanceOf(Promise);
    second.end();
    expect(health.firstContactUnderway(['a'])).toBeUndefined();
  });
});

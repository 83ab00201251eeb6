import { DEFAULT_WEBHOOK_TIMEOUT_MS } from '../webhook/publisher';
import type { FlowRecord } from './records';

/**
 * The right to send a flow's owed events, held by one run. Two runs can overlap (FC retries a
 * failed timer invocation, a tick can start while a slow run is still going, reservedConcurrency
 * only makes it rare) and both would find the same event owed: a Standard Webhooks receiver
 * dedupes by id, but a chat robot posts it twice. The lease lives in the flow record, taken with
 * the record's compare-and-set before anything is sent, so the taking run also proves it holds
 * the latest outbox; it is never kept in module memory, as FC instances share nothing.
 */
export interface DeliveryLease {
  /** The run holding it (a random id per run). */
  readonly owner: string;
  /** Epoch ms, on the holder's clock, after which another run may take it. */
  readonly until: number;
}

/**
 * How long a lease lasts: three webhook timeouts. A holder renews it before an attempt once less
 * than LEASE_RENEW_BELOW_MS is left, so an attempt (at most one timeout) ends with at least one
 * more timeout left for saving its outcome and for clock skew between instances. A run that dies
 * holding it (crash, FC timeout, freeze) delays the flow's owed events by at most this long: the
 * first run starting after it has expired delivers them.
 */
export const DELIVERY_LEASE_MS = 3 * DEFAULT_WEBHOOK_TIMEOUT_MS;
export const LEASE_RENEW_BELOW_MS = 2 * DEFAULT_WEBHOOK_TIMEOUT_MS;

/**
 * How far past a lease's full length its end may lie on the taker's clock and still hold: instances'
 * clocks differ a little. A later end was not written by a run of ours (a hand-edited record, a
 * clock far off) and would hold the flow's events back until then, so it is taken over instead.
 */
export const LEASE_CLOCK_SKEW_MS = DEFAULT_WEBHOOK_TIMEOUT_MS;

/** Takes or renews the lease for `owner`; false (record unchanged) while another run holds it. */
export function takeLease(record: FlowRecord, owner: string, now: number): boolean {
  const lease = record.deliveryLease;
  const isHeld =
    lease !== undefined && lease.until > now && lease.until <= now + DELIVERY_LEASE_MS + LEASE_CLOCK_SKEW_MS;
  if (lease && lease.owner !== owner && isHeld) return false;
  record.deliveryLease = { owner, until: now + DELIVERY_LEASE_MS };
  return true;
}

/**
 * Renews a lease `owner` still holds, even past its end: nobody took it meanwhile, so nobody
 * sent. False once another run took it over.
 */
export function renewLease(record: FlowRecord, owner: string, now: number): boolean {
  if (record.deliveryLease?.owner !== owner) return false;
  record.deliveryLease = { owner, until: now + DELIVERY_LEASE_MS };
  return true;
}

/** Gives the lease back, if `owner` still holds it, so the next run need not wait for its end. */
export function releaseLease(record: FlowRecord, owner: string): void {
  if (record.deliveryLease?.owner === owner) delete record.deliveryLease;
}

export function needsRenewal(until: number, now: number): boolean {
  return until - now < LEASE_RENEW_BELOW_MS;
}

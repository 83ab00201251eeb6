import { describe, expect, it } from 'vitest';
import { DELIVERY_LEASE_MS, LEASE_CLOCK_SKEW_MS, takeLease } from '../../shared/poller/delivery-lease';
import { newFlowRecord } from '../../shared/poller/records';

const NOW = 1_800_000_000_000;
const recordLeasedUntil = (until: number) => ({
  ...newFlowRecord('910000000000001', undefined),
  deliveryLease: { owner: 'other-run', until },
});

describe('takeLease', () => {
  it('leaves a lease another run holds, up to its full length plus clock skew ahead', () => {
    for (const until of [NOW + 1, NOW + DELIVERY_LEASE_MS, NOW + DELIVERY_LEASE_MS + LEASE_CLOCK_SKEW_MS]) {
      const record = recordLeasedUntil(until);
      expect(takeLease(record, 'this-run', NOW)).toBe(false);
      expect(record.deliveryLease).toEqual({ owner: 'other-run', until });
    }
  });

  it('takes an ended lease, and one ending further ahead than any run of ours writes (hand-edited, a clock far off)', () => {
    for (const until of [NOW, NOW - 1, NOW + DELIVERY_LEASE_MS + LEASE_CLOCK_SKEW_MS + 1, 8.64e15]) {
      const record = recordLeasedUntil(until);
      expect(takeLease(record, 'this-run', NOW)).toBe(true);
      expect(record.deliveryLease).toEqual({ owner: 'this-run', until: NOW + DELIVERY_LEASE_MS });
    }
  });
});

import type { SimFlow } from './cams-simulator';

export const LOCAL_CUST_SPACE_ID = 'cams-local-space';

/** Flows the local simulator starts with; their statuses change within the first minute. */
export const SEED_FLOWS: readonly SimFlow[] = [
  {
    flowId: '700000000000001',
    flowName: 'appointment_booking',
    status: 'DRAFT',
    categories: ['APPOINTMENT_BOOKING'],
  },
  {
    flowId: '700000000000002',
    flowName: 'lead_generation',
    status: 'PUBLISHED',
    categories: ['LEAD_GENERATION'],
  },
  {
    flowId: '700000000000003',
    custSpaceId: LOCAL_CUST_SPACE_ID,
    flowName: 'customer_support',
    status: 'PUBLISHED',
    categories: ['CUSTOMER_SUPPORT'],
  },
];

/** Status scripts, relative to the simulator's start (milliseconds). */
export const SEED_SCRIPTS: ReadonlyArray<{
  readonly flowId: string;
  readonly custSpaceId?: string;
  readonly steps: ReadonlyArray<{ afterMs: number; status: string }>;
}> = [
  {
    flowId: '700000000000001',
    steps: [
      { afterMs: 15_000, status: 'PUBLISHED' },
      { afterMs: 30_000, status: 'THROTTLED' },
      { afterMs: 45_000, status: 'BLOCKED' },
      { afterMs: 90_000, status: 'THROTTLED' },
      { afterMs: 120_000, status: 'PUBLISHED' },
    ],
  },
  { flowId: '700000000000002', steps: [{ afterMs: 40_000, status: 'DEPRECATED' }] },
  {
    flowId: '700000000000003',
    custSpaceId: LOCAL_CUST_SPACE_ID,
    steps: [
      { afterMs: 25_000, status: 'THROTTLED' },
      { afterMs: 70_000, status: 'PUBLISHED' },
    ],
  },
];

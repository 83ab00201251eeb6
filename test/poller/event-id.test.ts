import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changeEventId } from '../../shared/poller';

const change = {
  custSpaceId: 'cams-1',
  flowId: '1234567890',
  previousStatus: 'PUBLISHED',
  status: 'THROTTLED',
  previousObservedAt: '2026-11-25T12:00:00.000Z',
};

describe('change event id', () => {
  it('is the same for the same change, however often it is computed', () => {
    expect(changeEventId({ ...change })).toBe(changeEventId(change));
  });

  it.each(Object.keys(change) as Array<keyof typeof change>)('changes when %s changes', (field) => {
    expect(changeEventId({ ...change, [field]: `${change[field]}x` })).not.toBe(changeEventId(change));
  });

  it('tells a flow with no cust space apart from field shifts', () => {
    expect(changeEventId({ ...change, custSpaceId: undefined })).not.toBe(changeEventId(change));
    expect(changeEventId({ flowId: 'a', status: 'b' })).not.toBe(
      changeEventId({ flowId: 'a', previousStatus: 'b' }),
    );
  });

  it('never contains a dot and stays short', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (flowId, previous, status, since) => {
        const id = changeEventId({ flowId, previousStatus: previous, status, previousObservedAt: since });
        expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
      }),
    );
  });
});

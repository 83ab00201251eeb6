import { describe, expect, it } from 'vitest';
import { parseHttpConfig } from '../../functions/http/config';
import { getFlowResponseSchema } from '../../shared/cams/schemas';
import { parsePollerConfig } from '../../shared/poller/config';
import { flowRecordSchema, parseStored } from '../../shared/poller/record-schema';

// The schemas use zod/mini, which has no messages of its own; these are the words zod's full
// build used before, which operators may already search logs for.
describe('validation messages', () => {
  it('explain a rejected CAMS answer field by field, as zod words them', () => {
    const result = getFlowResponseSchema().safeParse({
      Code: 'OK',
      // A malformed PreviewUrlExpires is no error: it reads as "no expiry known".
      Data: { FlowId: '', Status: 7, PreviewUrlExpires: 'soon' },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([
      'Data.FlowId: Too small: expected string to have >=1 characters',
      'Data.Status: Invalid input: expected string, received number',
    ]);
  });

  it('name the variable and the rule for bad configuration', () => {
    expect(() => parsePollerConfig({ WEBHOOK_MAX_AGE_HOURS: '0' })).toThrow(
      'WEBHOOK_MAX_AGE_HOURS is invalid: Too small: expected number to be >0',
    );
    expect(() => parsePollerConfig({ DISCOVERY_INTERVAL_SECONDS: 'many' })).toThrow(
      'DISCOVERY_INTERVAL_SECONDS is invalid: Invalid input: expected number, received NaN',
    );
    expect(() => parseHttpConfig({ HTTP_CACHE_TTL_SECONDS: '4000' })).toThrow(
      'HTTP_CACHE_TTL_SECONDS must be at most 3600 seconds',
    );
  });

  it('say why a stored record is unusable, as the poller logs it', () => {
    const stored = { flowId: '', flowName: 'x', failures: 1.5, outbox: [], deadLetters: {} };
    expect(parseStored(flowRecordSchema(), stored)).toEqual({
      ok: false,
      problem:
        'flowId: Too small: expected string to have >=1 characters; failures: Invalid input: expected int, received number; deadLetters: Invalid input: expected array, received object',
    });
  });
});

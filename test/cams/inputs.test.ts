import { describe, expect, it } from 'vitest';
import {
  MissingCredentialsError,
  resolveCredentials,
  validateCustSpaceId,
  validateFlowId,
} from '../../shared/cams';

describe('id validation', () => {
  it.each(['926753328126431', 'cams-abc_1', 'a.b:c'])('accepts %s', (id) => {
    expect(validateFlowId(id)).toBe(id);
    expect(validateCustSpaceId(id)).toBe(id);
  });

  it.each([
    ['empty', ''],
    ['spaces', 'a b'],
    ['path characters', '../etc'],
    ['query characters', 'a&b=c'],
    ['control characters', 'a\nb'],
    ['unicode', '流程'],
    ['overlong', 'x'.repeat(65)],
  ])('rejects %s with the field and the rule', (_label, id) => {
    expect(() => validateFlowId(id)).toThrow(/flowId is invalid: .*letters, digits/);
    try {
      validateCustSpaceId(id);
    } catch (error) {
      expect(error).toMatchObject({ code: 'InvalidParameter', field: 'custSpaceId', retryable: false });
    }
  });

  it('rejects non-strings', () => {
    expect(() => validateFlowId(undefined)).toThrow(/required/);
    expect(() => validateFlowId(42)).toThrow(/required/);
  });
});

describe('credentials', () => {
  const env = {
    ALIBABA_CLOUD_ACCESS_KEY_ID: 'env-id',
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'env-secret',
    ALIBABA_CLOUD_SECURITY_TOKEN: 'env-token',
  };

  it('prefers the invocation context', () => {
    const fromContext = { accessKeyId: 'STS.ctx', accessKeySecret: 'ctx-secret', securityToken: 'ctx-token' };
    expect(resolveCredentials(fromContext, env)).toEqual(fromContext);
  });

  it('falls back to the environment', () => {
    expect(resolveCredentials(undefined, env)).toEqual({
      accessKeyId: 'env-id',
      accessKeySecret: 'env-secret',
      securityToken: 'env-token',
    });
    expect(resolveCredentials({ accessKeyId: '' }, env).accessKeyId).toBe('env-id');
  });

  it('tells the operator to attach a RAM role with cams:GetFlow, without echoing secrets', () => {
    expect(() => resolveCredentials(undefined, {})).toThrow(MissingCredentialsError);
    expect(() => resolveCredentials(undefined, {})).toThrow(/RAM role that allows cams:GetFlow/);
    try {
      resolveCredentials(undefined, { ALIBABA_CLOUD_ACCESS_KEY_ID: 'id-only-value' });
    } catch (error) {
      expect(error).toMatchObject({ code: 'MissingCredentials', retryable: false });
      expect(String((error as Error).message)).not.toContain('id-only-value');
    }
  });
});

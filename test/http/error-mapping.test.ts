import { describe, expect, it } from 'vitest';
import { toHttpError } from '../../functions/http/error-mapping';
import { CamsError, InvalidInputError, MissingCredentialsError } from '../../shared/cams';
import { ConfigError } from '../../shared/config-error';

function camsError(code: string, retryable = false) {
  return new CamsError({ action: 'GetFlow', code, requestId: 'CAMS-REQ-1', retryable });
}

describe('toHttpError', () => {
  it.each([
    ['Unknown.ResourceOwnerId', 404, 'FlowNotFound'],
    ['System.LimitControl', 429, 'Throttled'],
    ['Throttling.User', 429, 'Throttled'],
    ['Timeout', 504, 'UpstreamTimeout'],
    ['DeadlineExceeded', 504, 'UpstreamTimeout'],
    ['Ram.PermissionDeny', 502, 'UpstreamPermissionDenied'],
    ['Product.Unsubscript', 502, 'UpstreamNotSubscribed'],
    ['SignatureDoesNotMatch', 502, 'SignatureDoesNotMatch'],
    ['InvalidAccessKeyId.NotFound', 502, 'InvalidAccessKeyId.NotFound'],
    ['InvalidResponse', 502, 'InvalidResponse'],
    ['ConnectionFailed', 502, 'ConnectionFailed'],
    ['HttpError', 502, 'HttpError'],
  ])('maps CAMS %s to %s %s, keeping the CAMS request id', (code, status, httpCode) => {
    const mapped = toHttpError(camsError(code));
    expect(mapped).toMatchObject({
      statusCode: status,
      code: httpCode,
      camsRequestId: 'CAMS-REQ-1',
      expose: true,
    });
    if (status === 429) expect(mapped.headers['retry-after']).toBe('1');
  });

  it('names the field for bad input, the variable for bad configuration, the RAM role for no credentials', () => {
    expect(toHttpError(new InvalidInputError('flowId', 'digits only'))).toMatchObject({
      statusCode: 400,
      code: 'InvalidParameter',
      message: expect.stringContaining('flowId'),
    });
    expect(toHttpError(new ConfigError('HTTP_CACHE_TTL_SECONDS', 'must be a number'))).toMatchObject({
      statusCode: 500,
      code: 'InvalidConfiguration',
    });
    expect(toHttpError(new MissingCredentialsError('none found'))).toMatchObject({
      statusCode: 503,
      code: 'MissingCredentials',
      message: expect.stringContaining('RAM role'),
    });
  });

  it('hides anything unexpected behind a generic 500', () => {
    const mapped = toHttpError(new TypeError('secret detail at /var/task/index.js:1'));
    expect(mapped).toMatchObject({
      statusCode: 500,
      code: 'InternalError',
      message: 'internal error',
      expose: false,
    });
    expect(toHttpError('a string')).toMatchObject({ statusCode: 500, code: 'InternalError' });
  });
});

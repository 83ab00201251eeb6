import { CamsError, InvalidInputError, isThrottlingCode, MissingCredentialsError } from '../../shared/cams';
import { ConfigError } from '../../shared/config-error';
import { BadEventError } from './fc-event';
import { HttpError } from './http-error';

/** Seconds a throttled caller should wait: CAMS counts calls per rolling second. */
const THROTTLED_RETRY_AFTER_S = '1';

/** Turns any failure into the answer a caller can act on. Unknown errors become a bare 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof InvalidInputError) return new HttpError(400, error.code, error.message);
  if (error instanceof BadEventError) return new HttpError(400, error.code, error.message);
  if (error instanceof MissingCredentialsError) return new HttpError(503, error.code, error.message);
  if (error instanceof ConfigError) return new HttpError(500, error.code, error.message);
  if (error instanceof CamsError) return fromCamsError(error);
  return new HttpError(500, 'InternalError', 'internal error', { expose: false });
}

function fromCamsError(error: CamsError): HttpError {
  const camsRequestId = error.requestId;
  const suffix = camsRequestId ? ` (CAMS RequestId ${camsRequestId})` : '';
  if (error.code === 'Unknown.ResourceOwnerId') {
    return new HttpError(
      404,
      'FlowNotFound',
      'CAMS knows no such flow for this account: check the flowId and custSpaceId',
      { camsRequestId },
    );
  }
  if (isThrottlingCode(error.code)) {
    return new HttpError(
      429,
      'Throttled',
      `CAMS is throttling GetFlow for this account (${error.code}); retry later`,
      {
        headers: { 'retry-after': THROTTLED_RETRY_AFTER_S },
        camsRequestId,
      },
    );
  }
  if (error.code === 'Timeout' || error.code === 'DeadlineExceeded') {
    return new HttpError(504, 'UpstreamTimeout', `CAMS did not answer in time${suffix}`, { camsRequestId });
  }
  if (error.code === 'Ram.PermissionDeny') {
    return new HttpError(
      502,
      'UpstreamPermissionDenied',
      `CAMS refused: the function's RAM role lacks cams:GetFlow — attach a policy allowing it${suffix}`,
      { camsRequestId },
    );
  }
  if (error.code === 'Product.Unsubscript') {
    return new HttpError(
      502,
      'UpstreamNotSubscribed',
      `CAMS refused: the account has not activated Chat App Message Service (CAMS)${suffix}`,
      { camsRequestId },
    );
  }
  return new HttpError(502, error.code, error.message, { camsRequestId });
}

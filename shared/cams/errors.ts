export type CamsAction = 'GetFlow' | 'ListFlow';

/** Codes CAMS or its gateway use to say "too many calls": back off and try again. */
export const CAMS_THROTTLING_CODES: readonly string[] = ['System.LimitControl', 'Throttling.User'];

export function isThrottlingCode(code: string): boolean {
  return CAMS_THROTTLING_CODES.includes(code) || code.startsWith('Throttling');
}

/** Codes this client raises itself when no CAMS code is available. */
export type LocalCamsCode =
  | 'HttpError'
  | 'Timeout'
  | 'ConnectionFailed'
  | 'InvalidResponse'
  | 'DeadlineExceeded';

/** What an operator should do about each code CAMS documents, and the usual gateway codes. */
const ADVICE: Readonly<Record<string, string>> = {
  'Product.Unsubscript':
    'the account has not activated Chat App Message Service (CAMS): activate it in the console for this account',
  'Ram.PermissionDeny':
    "the function's RAM role lacks permission: grant it cams:GetFlow (and cams:ListFlow for discovery)",
  'System.LimitControl':
    'CAMS allows 5 flow calls per second per account across all callers: lower CAMS_ACCOUNT_QPS by what the other callers sharing the account use and keep POLL_QPS below it (4 calls/s: CAMS_ACCOUNT_QPS=4 with POLL_QPS=3)',
  'Throttling.User':
    'the gateway throttled this account: lower CAMS_ACCOUNT_QPS and keep POLL_QPS below it (4 calls/s: CAMS_ACCOUNT_QPS=4 with POLL_QPS=3)',
  'Unknown.ResourceOwnerId':
    'the flow does not exist or does not belong to this account/cust space: check FlowId and CustSpaceId',
  SignatureDoesNotMatch:
    "CAMS rejected the request signature: check the access key secret, and that nothing rewrites the request's host or body",
  'InvalidAccessKeyId.NotFound':
    'the access key is unknown: check the RAM role attached to the function, or ALIBABA_CLOUD_ACCESS_KEY_ID',
  'InvalidTimeStamp.Expired':
    "the request time is more than 15 minutes off CAMS's clock: check the host clock (NTP)",
  SignatureNonceUsed: 'the signature nonce was reused: retry the call (a new nonce is generated per attempt)',
  HttpError:
    'CAMS answered with an unexpected HTTP status: retry later; if it persists check the CAMS status page',
  Timeout: 'CAMS did not answer in time: retry later, or raise the function timeout',
  ConnectionFailed: 'could not reach CAMS: check CAMS_ENDPOINT and the function network (VPC/NAT, DNS)',
  InvalidResponse: 'CAMS answered with a body this client does not understand: report it with the request id',
  DeadlineExceeded: "the caller's deadline passed before CAMS answered: raise the function timeout or retry",
};

export function adviceFor(code: string): string {
  const advice = Object.hasOwn(ADVICE, code) ? ADVICE[code] : undefined;
  if (advice) return advice;
  if (code.startsWith('InvalidSecurityToken')) {
    return 'the STS security token was rejected: FC role credentials must be read from the context on every invocation';
  }
  if (isThrottlingCode(code)) return ADVICE['System.LimitControl'] ?? '';
  return 'see the CAMS error code reference for this code';
}

/** What an upstream code must look like to be passed on; anything else becomes GENERIC_UPSTREAM_CODE. */
const SAFE_CODE = /^[A-Za-z0-9._-]{1,64}$/;
export const GENERIC_UPSTREAM_CODE = 'UpstreamError';
const MAX_UPSTREAM_MESSAGE_CHARS = 300;

/** The call's credentials, each kept out of what callers and logs see of an upstream answer. */
export type CallSecrets = ReadonlyArray<string | undefined>;

/** Shorter values are not looked for: they would match ordinary text by chance. */
const MIN_SECRET_CHARS = 4;

const isLookedFor = (secret: string | undefined): secret is string =>
  secret !== undefined && secret.length >= MIN_SECRET_CHARS;

function holdsSecret(text: string, secrets: CallSecrets): boolean {
  return secrets.some((secret) => isLookedFor(secret) && text.includes(secret));
}

/**
 * An upstream (or gateway, or impostor) code as callers may see and branch on it. Like the
 * message, it may echo the request it refused: one holding the call's credentials is not passed on.
 */
export function safeUpstreamCode(code: string, secrets: CallSecrets): string {
  return SAFE_CODE.test(code) && !holdsSecret(code, secrets) ? code : GENERIC_UPSTREAM_CODE;
}

/** A request id is echoed to callers and logs: only plain ids that hold none of the call's credentials pass. */
export function safeRequestId(requestId: string | undefined, secrets: CallSecrets): string | undefined {
  return requestId !== undefined && SAFE_CODE.test(requestId) && !holdsSecret(requestId, secrets)
    ? requestId
    : undefined;
}

/**
 * An upstream message as callers may see it: one line, truncated, and without the call's
 * credentials — a proxy or a misbehaving gateway may echo the request it refused.
 */
export function safeUpstreamMessage(message: string | undefined, secrets: CallSecrets): string | undefined {
  if (message === undefined) return undefined;
  let text = String(message);
  for (const secret of secrets) {
    if (isLookedFor(secret)) text = text.split(secret).join('[redacted]');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  if (text.length > MAX_UPSTREAM_MESSAGE_CHARS) text = `${text.slice(0, MAX_UPSTREAM_MESSAGE_CHARS)}...`;
  return text || undefined;
}

export interface CamsErrorDetails {
  readonly action: CamsAction;
  readonly code: string;
  /** What CAMS said, if anything. Never contains credentials: CAMS messages do not echo them. */
  readonly upstreamMessage?: string | undefined;
  readonly target?: string | undefined;
  readonly httpStatus?: number | undefined;
  readonly requestId?: string | undefined;
  readonly retryable: boolean;
  readonly cause?: unknown;
}

/** Every failure of a CAMS call: upstream codes as sent, plus the local codes above. */
export class CamsError extends Error {
  override readonly name = 'CamsError';
  readonly code: string;
  readonly action: CamsAction;
  readonly httpStatus: number | undefined;
  readonly requestId: string | undefined;
  readonly retryable: boolean;

  constructor(details: CamsErrorDetails) {
    const target = details.target ? ` ${details.target}` : '';
    const said = details.upstreamMessage ? ` (${details.upstreamMessage})` : '';
    const request = details.requestId ? ` [RequestId ${details.requestId}]` : '';
    super(
      `${details.action}${target} failed: ${details.code}${said}: ${adviceFor(details.code)}${request}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.code = details.code;
    this.action = details.action;
    this.httpStatus = details.httpStatus;
    this.requestId = details.requestId;
    this.retryable = details.retryable;
  }
}

/** A FlowId/CustSpaceId that cannot be sent: rejected before any call, never retried. */
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  readonly code = 'InvalidParameter';
  readonly retryable = false;
  readonly field: string;
  readonly rule: string;

  constructor(field: string, rule: string) {
    super(`${field} is invalid: ${rule}`);
    this.field = field;
    this.rule = rule;
  }
}

export class MissingCredentialsError extends Error {
  override readonly name = 'MissingCredentialsError';
  readonly code = 'MissingCredentials';
  readonly retryable = false;

  constructor(detail: string) {
    super(
      `No Alibaba Cloud credentials: ${detail}. Attach a RAM role that allows cams:GetFlow to the function ` +
        '(s.yaml `role:`), or for local runs set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET ' +
        '(plus ALIBABA_CLOUD_SECURITY_TOKEN for STS keys).',
    );
  }
}

/**
 * What Tablestore's error codes mean for the state store, shared by both Tablestore clients
 * (the official SDK and ours): which codes are worth retrying, and what an operator should do.
 */
import { StateStoreError } from './errors';

const RETRYABLE_OTS_CODES = new Set([
  'OTSServerBusy',
  'OTSServerUnavailable',
  'OTSInternalServerError',
  'OTSTimeout',
  'OTSPartitionUnavailable',
  'OTSTableNotReady',
  'OTSNotEnoughCapacityUnit',
  'OTSOperationThrottled',
  'OTSRowOperationConflict',
]);
/**
 * OTSQuotaExhausted names two things: table operations too frequent for the instance (a retry
 * after a pause succeeds) and a quota used up, such as the instance's tables (no retry helps).
 * The official SDKs (Java, Python, Go, Node, C#, C++) retry it only on this exact message, and
 * Tablestore's error reference marks only it retryable.
 */
const TOO_FREQUENT_TABLE_OPERATIONS = 'Too frequent table operations.';

function isRetryableOtsError(code: string, message: string): boolean {
  if (code === 'OTSQuotaExhausted') return message === TOO_FREQUENT_TABLE_OPERATIONS;
  return RETRYABLE_OTS_CODES.has(code) || code === 'NetworkingError' || /^HTTP5/.test(code);
}

/** Tablestore's general limits (bytes): a STRING primary key value, an attribute value, one PutRow/UpdateRow. */
export const TABLESTORE_LIMITS = {
  primaryKeyBytes: 1024,
  attributeValueBytes: 2 * 1024 * 1024,
  writeRequestBytes: 4 * 1024 * 1024,
} as const;

/** Sizes out of the service's "… exceed(s|ed) the MaxLength:<limit> with Current(Length): <size>." */
function oversizeAdvice(message: string): string | undefined {
  const sizes = /MaxLength:\s*(\d+)\s*with\s*Current\s*Length:\s*(\d+)/i.exec(message);
  if (!sizes) return undefined;
  const what = /primary key/i.test(message) ? 'a key' : 'a value';
  return `${what} of ${sizes[2]} bytes is above Tablestore's limit of ${sizes[1]} bytes; it cannot be stored as it is`;
}

function adviceFor(code: string, operation: string, message: string): string {
  if (code === 'OTSAuthFailed' || code === 'OTSNoPermissionAccess') {
    return `the function's RAM role may not call ots:${operation} on this table, or the instance or endpoint is wrong: attach the Tablestore statement of ram-policy.json and check STATE_URL and TABLESTORE_ENDPOINT`;
  }
  if (code === 'OTSObjectNotExist') return 'the table does not exist and could not be created';
  if (code === 'OTSQuotaExhausted' && message !== TOO_FREQUENT_TABLE_OPERATIONS) {
    return (
      'a quota of the Tablestore instance is used up, most likely its tables (64 per instance unless raised, data tables and indexes together): ' +
      'delete tables the instance no longer needs or ask Alibaba Cloud (a ticket) for a higher table quota; retrying does not help'
    );
  }
  if (code === 'OTSRequestBodyTooLarge') {
    return `the request is larger than Tablestore takes (${TABLESTORE_LIMITS.writeRequestBytes} bytes per PutRow or UpdateRow); it cannot be stored as it is`;
  }
  if (code === 'OTSParameterInvalid')
    return oversizeAdvice(message) ?? 'see the Tablestore error code reference';
  if (isRetryableOtsError(code, message)) return 'Tablestore is unavailable; the next run retries';
  return 'see the Tablestore error code reference';
}

/**
 * New instances refuse Internet access by default, so a function without vpcConfig (or in another
 * VPC) gets OTSAuthFailed for every call: a network setting, not a credential, is what to fix.
 */
function aclRefusal(
  operation: string,
  instance: string,
  details: { readonly cause?: unknown; readonly requestId?: string | undefined },
): StateStoreError {
  return new StateStoreError(
    'InstanceAclDenied',
    `Tablestore ${operation} on instance ${instance} was refused by the instance's network ACL (OTSAuthFailed: Request denied by instance ACL policies) — ` +
      `either allow Internet access (or access from any VPC) in the instance's network settings, ` +
      `or deploy the functions with s.vpc.yaml (DEPLOY_VPC_ID, DEPLOY_VSWITCH_IDS, DEPLOY_SECURITY_GROUP_ID) ` +
      `and TABLESTORE_ENDPOINT=https://${instance}.<region>.vpc.tablestore.aliyuncs.com (docs/deploy.md, Tablestore network)` +
      (details.requestId ? ` (Tablestore request id ${details.requestId})` : ''),
    { retryable: false, cause: details.cause, requestId: details.requestId },
  );
}

/**
 * Node's codes for a server certificate it refuses: OpenSSL's verify results (self-signed,
 * unknown issuer, expired, …) and Node's own host-name check.
 */
const UNTRUSTED_CERTIFICATE =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_[A-Z_]+)$/;

/**
 * A connection refused over the endpoint's certificate, or undefined for any other failure. The
 * service's own endpoints present certificates Node trusts, so this is a wrong TABLESTORE_ENDPOINT
 * or something between the function and Tablestore: said as such, not as "unavailable". Still
 * retryable, as any failure to connect: the HTTP function then serves from CAMS meanwhile.
 */
export function untrustedCertificate(
  operation: string,
  location: { readonly table: string },
  cause: unknown,
): StateStoreError | undefined {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !UNTRUSTED_CERTIFICATE.test(code)) return undefined;
  return new StateStoreError(
    'TlsCertificateUntrusted',
    `Tablestore ${operation} on table ${location.table} failed: the endpoint's TLS certificate is not trusted (${code}) — ` +
      "check that TABLESTORE_ENDPOINT is the instance's own https endpoint (https://<instance>.<region>.ots.aliyuncs.com, " +
      'or https://<instance>.<region>.vpc.tablestore.aliyuncs.com from the VPC) and that nothing in between presents another certificate',
    { retryable: true, cause },
  );
}

/**
 * Tablestore's request ids are UUID-like; anything else (an answer from something that is not
 * Tablestore) is not repeated into messages and logs.
 */
export function requestIdOf(header: unknown): string | undefined {
  return typeof header === 'string' && /^[A-Za-z0-9-]{1,100}$/.test(header) ? header : undefined;
}

/**
 * `operation` as the API names it (GetRow, PutRow, …), for the message and the RAM action;
 * `message` is Tablestore's own, used only to recognise cases (the ACL refusal, the quota that
 * a retry clears, the sizes of an oversized value), never echoed; `requestId` is Tablestore's
 * `x-ots-requestid`, kept on the error and said in the message, for Alibaba Cloud support.
 */
export function otsError(
  code: string,
  operation: string,
  location: { readonly instance: string; readonly table: string },
  details: {
    readonly cause?: unknown;
    readonly message?: string;
    readonly requestId?: string | undefined;
  } = {},
): StateStoreError {
  const message = details.message ?? '';
  if (code === 'OTSAuthFailed' && /ACL polic/i.test(message)) {
    return aclRefusal(operation, location.instance, details);
  }
  const request = details.requestId ? ` (Tablestore request id ${details.requestId})` : '';
  return new StateStoreError(
    code,
    `Tablestore ${operation} on table ${location.table} failed: ${code} — ${adviceFor(code, operation, message)}${request}`,
    { retryable: isRetryableOtsError(code, message), cause: details.cause, requestId: details.requestId },
  );
}

/** A conditional write: true when applied, false when Tablestore refused it on its row condition. */
export async function appliedUnlessConditionFails(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (error instanceof StateStoreError && error.code === 'OTSConditionCheckFail') return false;
    throw error;
  }
}

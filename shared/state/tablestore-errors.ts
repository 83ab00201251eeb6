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
  'OTSQuotaExhausted',
]);
export function isRetryableOtsCode(code: string): boolean {
  return RETRYABLE_OTS_CODES.has(code) || code === 'NetworkingError' || /^HTTP5/.test(code);
}

function adviceFor(code: string, operation: string): string {
  if (code === 'OTSAuthFailed' || code === 'OTSNoPermissionAccess') {
    return `the function's RAM role may not call ots:${operation} on this table, or the instance or endpoint is wrong: attach the Tablestore statement of ram-policy.json and check STATE_URL and TABLESTORE_ENDPOINT`;
  }
  if (code === 'OTSObjectNotExist') return 'the table does not exist and could not be created';
  if (isRetryableOtsCode(code)) return 'Tablestore is unavailable; the next run retries';
  return 'see the Tablestore error code reference';
}

/**
 * New instances refuse Internet access by default, so a function without vpcConfig (or in another
 * VPC) gets OTSAuthFailed for every call: a network setting, not a credential, is what to fix.
 */
function aclRefusal(operation: string, instance: string, cause: unknown): StateStoreError {
  return new StateStoreError(
    'InstanceAclDenied',
    `Tablestore ${operation} on instance ${instance} was refused by the instance's network ACL (OTSAuthFailed: Request denied by instance ACL policies) — ` +
      `either allow Internet access (or access from any VPC) in the instance's network settings, ` +
      `or deploy the functions with s.vpc.yaml (DEPLOY_VPC_ID, DEPLOY_VSWITCH_IDS, DEPLOY_SECURITY_GROUP_ID) ` +
      `and TABLESTORE_ENDPOINT=https://${instance}.<region>.vpc.tablestore.aliyuncs.com (docs/deploy.md, Tablestore network)`,
    { retryable: false, cause },
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
 * `operation` as the API names it (GetRow, PutRow, …), for the message and the RAM action;
 * `message` is Tablestore's own, used only to recognise the ACL refusal.
 */
export function otsError(
  code: string,
  operation: string,
  location: { readonly instance: string; readonly table: string },
  details: { readonly cause?: unknown; readonly message?: string } = {},
): StateStoreError {
  if (code === 'OTSAuthFailed' && /ACL polic/i.test(details.message ?? '')) {
    return aclRefusal(operation, location.instance, details.cause);
  }
  return new StateStoreError(
    code,
    `Tablestore ${operation} on table ${location.table} failed: ${code} — ${adviceFor(code, operation)}`,
    { retryable: isRetryableOtsCode(code), cause: details.cause },
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

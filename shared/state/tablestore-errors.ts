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

/** `operation` as the API names it (GetRow, PutRow, …), for the message and the RAM action. */
export function otsError(code: string, operation: string, table: string, cause?: unknown): StateStoreError {
  return new StateStoreError(
    code,
    `Tablestore ${operation} on table ${table} failed: ${code} — ${adviceFor(code, operation)}`,
    { retryable: isRetryableOtsCode(code), cause },
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

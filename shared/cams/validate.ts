import { InvalidInputError } from './errors';

/**
 * CAMS ids are digits (FlowId) or short tokens like `cams-…` (CustSpaceId). The API documents
 * no grammar, so the rule is deliberately a little wider than what CAMS issues and rejects only
 * what can never be an id: empty, overlong, whitespace, control or path/query characters.
 */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const MAX_ID_LENGTH = 64;
const RULE = `1-${MAX_ID_LENGTH} characters: letters, digits, '-', '_', '.', ':', starting with a letter or digit`;

function validateId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(field, `required, ${RULE}`);
  }
  if (value.length > MAX_ID_LENGTH || !SAFE_ID.test(value)) throw new InvalidInputError(field, RULE);
  return value;
}

export function validateFlowId(value: unknown): string {
  return validateId('flowId', value);
}

export function validateCustSpaceId(value: unknown): string {
  return validateId('custSpaceId', value);
}

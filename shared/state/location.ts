import { ConfigError } from '../config-error';
import { StateStoreError } from './errors';
import { parseTablestoreUrl, type TablestoreLocation } from './tablestore-location';

/** Where STATE_URL points: a directory (local runs) or a Tablestore table (Function Compute). */
export type StateLocation =
  | { readonly kind: 'file'; readonly path: string }
  | ({ readonly kind: 'tablestore' } & TablestoreLocation);

const ACCEPTED = 'file:<path> (local runs) or tablestore://<instance>/<table> (Function Compute)';

/**
 * The one reading of STATE_URL (and, for Tablestore, TABLESTORE_ENDPOINT): opening the store
 * and checking a function's configuration at cold start must agree on what is valid. Throws
 * StateStoreError InvalidConfiguration naming the variable at fault; never echoes the value.
 */
export function parseStateUrl(url: string, env: NodeJS.ProcessEnv): StateLocation {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') {
      throw new StateStoreError('InvalidConfiguration', `STATE_URL needs a path: ${ACCEPTED}`, {
        variable: 'STATE_URL',
      });
    }
    return { kind: 'file', path };
  }
  if (url.startsWith('tablestore://')) return { kind: 'tablestore', ...parseTablestoreUrl(url, env) };
  throw new StateStoreError('InvalidConfiguration', `STATE_URL must be ${ACCEPTED}`, {
    variable: 'STATE_URL',
  });
}

/**
 * STATE_URL read as opening the store reads it, for a function's configuration at cold start:
 * a wrong one is a ConfigError naming the variable, not a store failure met again on every use.
 */
export function checkStateUrl(stateUrl: string, env: NodeJS.ProcessEnv): void {
  try {
    parseStateUrl(stateUrl, env);
  } catch (error) {
    if (!(error instanceof StateStoreError) || !error.variable) throw error;
    throw new ConfigError(error.variable, error.message.replace(`${error.variable} `, ''));
  }
}

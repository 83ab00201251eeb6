import { type Credentials, MissingCredentialsError, resolveCredentials } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import { createStateStore, DEFAULT_STATE_URL, type StateStore, StateStoreError } from '../../shared/state';
import { HttpError } from './http-error';

export type OpenStateStore = (contextCredentials: unknown) => Promise<StateStore>;

/**
 * The poller's state store (STATE_URL), opened on first use and kept for the warm instance.
 * FC hands every invocation the role's current STS credentials; when they rotate the
 * Tablestore client is rebuilt with the new ones (a `file:` store needs none).
 */
export function stateStoreOpener(options: { env: NodeJS.ProcessEnv; clock: Clock }): OpenStateStore {
  let opened: { identity: string; store: Promise<StateStore> } | undefined;
  return async function openStateStore(contextCredentials) {
    const url = options.env.STATE_URL?.trim() || DEFAULT_STATE_URL;
    let credentials: Credentials | undefined;
    try {
      credentials = resolveCredentials(contextCredentials, options.env);
    } catch (error) {
      if (!(error instanceof MissingCredentialsError)) throw error;
    }
    const identity = url.startsWith('file:')
      ? url
      : [url, credentials?.accessKeyId, credentials?.securityToken].join('\u0000');
    if (opened?.identity !== identity) {
      const previous = opened?.store;
      const store = createStateStore(url, { credentials, env: options.env, clock: options.clock });
      opened = { identity, store };
      store.catch(() => {
        if (opened?.store === store) opened = undefined;
      });
      previous?.then((old) => old.close()).catch(() => undefined);
    }
    return mapStateErrors(() => opened?.store ?? Promise.reject(new Error('state store not opened')));
  };
}

/** Runs a store operation, turning its failures into answers an operator can act on. */
export async function mapStateErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof StateStoreError)) throw error;
    if (error.code === 'MissingCredentials') throw new HttpError(503, error.code, error.message);
    if (error.code === 'InvalidConfiguration') throw new HttpError(500, error.code, error.message);
    if (error.retryable) {
      throw new HttpError(503, 'StateUnavailable', `the state store is unavailable: ${error.message}`, {
        headers: { 'retry-after': '1' },
      });
    }
    throw new HttpError(502, 'StateError', `the state store failed: ${error.message}`);
  }
}

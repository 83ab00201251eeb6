import { resolve } from 'node:path';
import type { Credentials } from '../cams/types';
import type { Clock } from '../clock';
import { StateStoreError } from './errors';
import { parseStateUrl } from './location';
import type { StateStore } from './types';

export { aroundStore } from './around';
export { StateStoreError } from './errors';
export { parseStateUrl, type StateLocation } from './location';
export { COUNTER_MIN_LIFETIME_MS, type Counter, type StateStore, type VersionedItem } from './types';
export { unavailableStore } from './unavailable-store';

export interface StateStoreOptions {
  readonly credentials?: Credentials | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly clock?: Clock | undefined;
  /** Per-request timeout and SDK retries on Tablestore; a caller waiting on the answer wants them short. */
  readonly timeoutMs?: number | undefined;
  readonly maxRetries?: number | undefined;
}

/** Where both functions keep state when STATE_URL is unset: a directory beside the process. */
export const DEFAULT_STATE_URL = 'file:.local/state';

/** Opens the store STATE_URL names. */
export async function createStateStore(url: string, options: StateStoreOptions = {}): Promise<StateStore> {
  const parsed = parseStateUrl(url, options.env ?? process.env);
  if (parsed.kind === 'file') {
    // Loaded on demand, as the deployed functions (on Tablestore) never need node's fs/promises.
    const { FileStateStore } = await import('./file-store');
    return new FileStateStore(resolve(parsed.path));
  }
  const { kind: _kind, ...location } = parsed;
  // Our own client, not the official SDK: see README, "Tablestore client". Loaded on demand,
  // as local runs on a file store never need it.
  const { TablestoreWireStore } = await import('./tablestore-client');
  if (!options.credentials) {
    throw new StateStoreError(
      'MissingCredentials',
      'the Tablestore state store needs credentials: attach a RAM role to the function (see ram-policy.json)',
    );
  }
  return new TablestoreWireStore({
    ...location,
    credentials: options.credentials,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
  });
}

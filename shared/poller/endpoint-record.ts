import type { StateStore } from '../state';
import { endpointRecordSchema, parseStored } from './record-schema';
import { ENDPOINT_PREFIX, type EndpointRecord } from './records';

/** Other runs write the same row rarely (a 410 or a Retry-After each): a few tries settle it. */
const MAX_WRITE_ATTEMPTS = 3;

/**
 * Writes `endpoint/<id>` by compare-and-set. `change` gets the row as stored (undefined when
 * absent or unusable) and returns the row to write, or undefined to leave it as it is. Rejects
 * when the store fails or other writers keep winning; callers treat the row as best effort, like
 * every note about an endpoint: a row not written costs a request, never an event.
 */
async function updateEndpointRecord(
  store: StateStore,
  endpointId: string,
  change: (current: EndpointRecord | undefined) => EndpointRecord | undefined,
): Promise<void> {
  const key = `${ENDPOINT_PREFIX}${endpointId}`;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt += 1) {
    const stored = await store.get(key);
    const parsed = stored && parseStored<EndpointRecord>(endpointRecordSchema(), stored.value);
    const next = change(parsed?.ok ? parsed.record : undefined);
    if (!next) return;
    if ((await store.put(key, next, stored?.version ?? 0)) !== undefined) return;
  }
  throw new Error(`${key} kept changing under ${MAX_WRITE_ATTEMPTS} writes`);
}

/** A 410 Gone: nothing more is sent to the endpoint until its row is deleted (replaces a pause). */
export function markEndpointGone(store: StateStore, endpointId: string, now: number): Promise<void> {
  return updateEndpointRecord(store, endpointId, (current) =>
    current?.gone ? undefined : { gone: true, goneAt: new Date(now).toISOString(), httpStatus: 410 },
  );
}

/**
 * A receiver's Retry-After: later runs send nothing to the endpoint before `until` either. A
 * gone endpoint stays gone, and a longer pause another run saved stays.
 */
export function pauseEndpoint(
  store: StateStore,
  endpointId: string,
  until: number,
  httpStatus: number,
): Promise<void> {
  return updateEndpointRecord(store, endpointId, (current) =>
    current?.gone || (current?.pausedUntil ?? 0) >= until
      ? undefined
      : { gone: false, goneAt: '', httpStatus, pausedUntil: until },
  );
}

/**
 * The HTTP function as deployed once it reads the state store on its first answer (the shared
 * call budget): one store read through STATE_URL, then the flow read through the built handler's
 * code. Bundled like the functions, so a cold start counts loading the store's client.
 * BENCH_STORE=sdk opens the official `tablestore` SDK's store instead of our own client.
 */
import { handler as httpHandler } from '../functions/http/index';
import type { Credentials } from '../shared/cams/types';
import { createStateStore, type StateStore } from '../shared/state';

async function openStore(credentials: Credentials): Promise<StateStore> {
  const url = process.env.STATE_URL ?? '';
  if (process.env.BENCH_STORE !== 'sdk') return createStateStore(url, { credentials });
  const { parseTablestoreUrl, TablestoreStateStore } = await import('../shared/state/tablestore');
  return new TablestoreStateStore({ ...parseTablestoreUrl(url, process.env), credentials });
}

export const handler = async (event: unknown, context: { credentials: Credentials }) => {
  const store = await openStore(context.credentials);
  await store.get('budget/bench');
  return httpHandler(event, context);
};

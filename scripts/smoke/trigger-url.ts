import { type ConnectionOptions, fcClientFor, runtimeOptions } from '../invoke/client';
import { apiError } from '../invoke/run';

/** The trigger s.yaml gives the http function. */
export const HTTP_TRIGGER_NAME = 'http';

/**
 * The HTTP trigger's public URL, from FC 3.0's GetTrigger (`httpTrigger.urlInternet`), the same
 * value `s info` prints: the smoke check then goes through the trigger as a caller would.
 */
export async function httpTriggerUrl(
  connection: ConnectionOptions,
  functionName: string,
  triggerName = HTTP_TRIGGER_NAME,
): Promise<string> {
  const client = fcClientFor(connection);
  let url: string | undefined;
  try {
    const response = await client.getTriggerWithOptions(
      functionName,
      triggerName,
      {},
      runtimeOptions(30_000),
    );
    url = response.body?.httpTrigger?.urlInternet;
  } catch (error) {
    throw apiError(`${functionName}/${triggerName}`, error, 'GetTrigger');
  }
  if (!url) throw new Error(`GetTrigger ${functionName}/${triggerName} returned no httpTrigger.urlInternet`);
  return url.replace(/\/+$/, '');
}

import { seeingAnswer } from '../invoke/answer-seen';
import { type ConnectionOptions, fcClientFor, runtimeOptions } from '../invoke/client';
import { apiError, type CallTarget } from '../invoke/run';

/** The trigger s.yaml gives the http function. */
export const HTTP_TRIGGER_NAME = 'http';

export interface HttpTrigger {
  /** The public URL, without a trailing slash. */
  readonly url: string;
  /** `anonymous`, `function` (FC signature in the Authorization header) or `jwt`; as deployed. */
  readonly authType: string;
}

/** FC's default HTTP trigger authType: requests must carry FC's signature. */
const DEFAULT_AUTH_TYPE = 'function';

/**
 * FC 3.0 gives an HTTP trigger's settings as a JSON string: `{"authType":"…","methods":[…]}`. One
 * that does not say (or cannot be read) is taken as FC's default, so the check goes through the
 * signed InvokeFunction rather than an unsigned request FC would refuse.
 */
function authTypeOf(triggerConfig: string | undefined): string {
  try {
    const config = JSON.parse(triggerConfig ?? '{}') as { authType?: unknown } | null;
    return typeof config?.authType === 'string' && config.authType !== ''
      ? config.authType
      : DEFAULT_AUTH_TYPE;
  } catch {
    return DEFAULT_AUTH_TYPE;
  }
}

/**
 * The HTTP trigger's public URL, from FC 3.0's GetTrigger (`httpTrigger.urlInternet`, the same
 * value `s info` prints), so the smoke check goes through the trigger as a caller would, and its
 * authType, which decides whether an unsigned request can get through at all.
 */
export async function httpTrigger(
  connection: ConnectionOptions & CallTarget,
  functionName: string,
  triggerName = HTTP_TRIGGER_NAME,
): Promise<HttpTrigger> {
  const client = fcClientFor(connection);
  const { body } = await seeingAnswer(
    () => client.getTriggerWithOptions(functionName, triggerName, {}, runtimeOptions(30_000)),
    (error, answer) => apiError(`${functionName}/${triggerName}`, error, 'GetTrigger', connection, answer),
  );
  const url = body?.httpTrigger?.urlInternet;
  if (!url) throw new Error(`GetTrigger ${functionName}/${triggerName} returned no httpTrigger.urlInternet`);
  return { url: url.replace(/\/+$/, ''), authType: authTypeOf(body?.triggerConfig) };
}

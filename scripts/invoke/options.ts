import { InvokeUsageError } from './errors';
import { httpHealthEvent, timerEvent } from './events';

export const FUNCTION_TARGETS = ['http', 'poller'] as const;
export type FunctionTarget = (typeof FUNCTION_TARGETS)[number];

/** The names s.yaml deploys; DEPLOY_HTTP_FUNCTION_NAME / DEPLOY_POLLER_FUNCTION_NAME override them. */
export const DEFAULT_FUNCTION_NAMES: Readonly<Record<FunctionTarget, string>> = {
  http: 'cams-flow-watch-http',
  poller: 'cams-flow-watch-poller',
};

export interface InvokeOptions {
  functionName: string;
  /** Raw InvokeFunction body, handed to the handler unchanged. */
  event: string;
  qualifier?: string;
  /** host[:port] of the FC API, without scheme. */
  endpoint: string;
  protocol: 'https' | 'http';
  regionId: string;
  credentials: { accessKeyId: string; accessKeySecret: string; securityToken?: string };
  timeoutMs: number;
  /** The variable that overrides functionName, for messages saying what to check. */
  nameVariable: 'DEPLOY_HTTP_FUNCTION_NAME' | 'DEPLOY_POLLER_FUNCTION_NAME';
}

const USAGE = 'usage: npm run invoke -- <http|poller> [event JSON]';

/** Reads the command line and the environment once; every problem is an InvokeUsageError. */
export function invokeOptionsFrom(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  now: Date = new Date(),
): InvokeOptions {
  const [target, event, ...extra] = args;
  if (!isTarget(target) || extra.length > 0) throw new InvokeUsageError('InvalidUsage', USAGE);

  const accessKeyId = env.ALIBABA_CLOUD_ACCESS_KEY_ID?.trim();
  const accessKeySecret = env.ALIBABA_CLOUD_ACCESS_KEY_SECRET?.trim();
  if (!accessKeyId || !accessKeySecret) {
    throw new InvokeUsageError(
      'MissingCredentials',
      'no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET ' +
        '(and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials) of a RAM user allowed fc:InvokeFunction',
    );
  }
  const securityToken = env.ALIBABA_CLOUD_SECURITY_TOKEN?.trim();

  // DEPLOY_*, never FC_*: the same shell runs `s deploy`, where FC_REGION breaks code upload.
  const regionId = env.DEPLOY_REGION?.trim() || env.ALIBABA_CLOUD_REGION?.trim() || 'ap-southeast-1';
  const { endpoint, protocol } = endpointFrom(env, regionId);
  const qualifier = env.DEPLOY_QUALIFIER?.trim();
  const nameVariable = target === 'http' ? 'DEPLOY_HTTP_FUNCTION_NAME' : 'DEPLOY_POLLER_FUNCTION_NAME';
  const nameOverride = env[nameVariable]?.trim();
  const timeoutSeconds = invokeTimeoutSeconds(env.DEPLOY_INVOKE_TIMEOUT_SECONDS);

  return {
    functionName: nameOverride || DEFAULT_FUNCTION_NAMES[target],
    event: event ?? (target === 'http' ? httpHealthEvent(now) : timerEvent(now)),
    ...(qualifier ? { qualifier } : {}),
    endpoint,
    protocol,
    regionId,
    credentials: { accessKeyId, accessKeySecret, ...(securityToken ? { securityToken } : {}) },
    timeoutMs: timeoutSeconds * 1000,
    nameVariable,
  };
}

/** Whole seconds; unset or empty is 90, anything else that is not a positive whole number is refused. */
function invokeTimeoutSeconds(raw: string | undefined): number {
  const text = raw?.trim() ?? '';
  if (text === '') return 90;
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(seconds) || seconds < 1) {
    throw new InvokeUsageError(
      'InvalidSetting',
      `DEPLOY_INVOKE_TIMEOUT_SECONDS must be a whole number of seconds of at least 1 (unset: 90), got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return seconds;
}

function isTarget(value: string | undefined): value is FunctionTarget {
  return (FUNCTION_TARGETS as readonly (string | undefined)[]).includes(value);
}

// FC 3.0's API endpoint is per account: <accountId>.<region>.fc.aliyuncs.com.
function endpointFrom(
  env: NodeJS.ProcessEnv,
  regionId: string,
): Pick<InvokeOptions, 'endpoint' | 'protocol'> {
  const override = env.DEPLOY_FC_ENDPOINT?.trim();
  if (override) {
    const url = new URL(override.includes('://') ? override : `https://${override}`);
    return { endpoint: url.host, protocol: url.protocol === 'http:' ? 'http' : 'https' };
  }
  const accountId = env.ALIBABA_CLOUD_ACCOUNT_ID?.trim();
  if (!accountId) {
    throw new InvokeUsageError(
      'MissingAccountId',
      'set ALIBABA_CLOUD_ACCOUNT_ID (the FC 3.0 endpoint is <accountId>.<region>.fc.aliyuncs.com) or DEPLOY_FC_ENDPOINT',
    );
  }
  return { endpoint: `${accountId}.${regionId}.fc.aliyuncs.com`, protocol: 'https' };
}

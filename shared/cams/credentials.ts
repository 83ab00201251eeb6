import { MissingCredentialsError } from './errors';
import type { Credentials } from './types';

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function fromObject(source: unknown): Credentials | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const record = source as Record<string, unknown>;
  const accessKeyId = nonEmptyString(record.accessKeyId);
  const accessKeySecret = nonEmptyString(record.accessKeySecret);
  if (!accessKeyId || !accessKeySecret) return undefined;
  return { accessKeyId, accessKeySecret, securityToken: nonEmptyString(record.securityToken) };
}

/**
 * FC injects the role's temporary STS credentials into every invocation's context; they
 * rotate, so they are read per invocation and never cached. The environment is the fallback
 * for local runs and for FC's own `ALIBABA_CLOUD_*` variables.
 */
export function resolveCredentials(
  contextCredentials: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Credentials {
  const fromContext = fromObject(contextCredentials);
  if (fromContext) return fromContext;
  const fromEnv = fromObject({
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
    securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
  });
  if (fromEnv) return fromEnv;
  if (fromEnv === undefined && nonEmptyString(env.ALIBABA_CLOUD_ACCESS_KEY_ID)) {
    throw new MissingCredentialsError(
      'ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not',
    );
  }
  throw new MissingCredentialsError(
    'the invocation context carries no credentials and none are in the environment',
  );
}

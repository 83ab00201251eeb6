import FcClient from '@alicloud/fc20230330';
import type { InvokeOptions } from './options';

type ClientConfig = ConstructorParameters<typeof FcClient>[0];
export type RuntimeOptions = Parameters<FcClient['invokeFunctionWithOptions']>[3];
export type ConnectionOptions = Pick<InvokeOptions, 'credentials' | 'endpoint' | 'protocol' | 'regionId'>;

/** An FC 3.0 API client (@alicloud/fc20230330) for the account endpoint the options name. */
export function fcClientFor(options: ConnectionOptions): FcClient {
  return new FcClient({
    ...options.credentials,
    endpoint: options.endpoint,
    protocol: options.protocol,
    regionId: options.regionId,
  } as ClientConfig);
}

/** No SDK retries: callers decide what is worth repeating (a smoke check retries only 429). */
export function runtimeOptions(readTimeoutMs: number): RuntimeOptions {
  return {
    autoretry: false,
    readTimeout: readTimeoutMs,
    connectTimeout: 10_000,
  } as unknown as RuntimeOptions;
}

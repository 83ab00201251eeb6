import { StateStoreError } from './errors';

export interface TablestoreLocation {
  readonly instance: string;
  readonly table: string;
  readonly endpoint: string;
}

const TABLESTORE_URL = /^tablestore:\/\/([A-Za-z][A-Za-z0-9-]{2,15})\/([A-Za-z_][A-Za-z0-9_]{0,254})\/?$/;

/**
 * `tablestore://<instance>/<table>`; the endpoint from TABLESTORE_ENDPOINT, else the instance's
 * public endpoint in the function's region (FC sets FC_REGION).
 */
export function parseTablestoreUrl(url: string, env: NodeJS.ProcessEnv): TablestoreLocation {
  const match = TABLESTORE_URL.exec(url);
  if (!match?.[1] || !match[2]) {
    throw new StateStoreError(
      'InvalidConfiguration',
      'STATE_URL must be tablestore://<instance>/<table>: instance 3–16 letters, digits or hyphens starting with a letter; table letters, digits or underscores',
      { variable: 'STATE_URL' },
    );
  }
  const [, instance, table] = match;
  const region = env.FC_REGION || env.ALIBABA_CLOUD_REGION;
  const endpoint = originOf(
    env.TABLESTORE_ENDPOINT || (region ? `https://${instance}.${region}.ots.aliyuncs.com` : ''),
  );
  if (endpoint === undefined) {
    throw new StateStoreError(
      'InvalidConfiguration',
      `TABLESTORE_ENDPOINT must be the instance's endpoint, an http(s) origin without user, path, query or fragment, e.g. https://${instance}.ap-southeast-1.ots.aliyuncs.com (or its VPC endpoint)`,
      { variable: 'TABLESTORE_ENDPOINT' },
    );
  }
  return { instance, table, endpoint };
}

/**
 * The endpoint's origin, or undefined when it is none the store could call: the shape test alone
 * let an out-of-range port, a bracketed non-address or user:password@ through, and every store
 * call then failed while the configuration check said ok. The URL error is dropped, never kept as
 * cause: it carries the value (a userinfo's password) as `input`.
 */
function originOf(endpoint: string): string | undefined {
  if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  const isOrigin =
    url.username === '' && url.password === '' && url.port !== '0' && url.href === `${url.origin}/`;
  return isOrigin ? url.origin : undefined;
}

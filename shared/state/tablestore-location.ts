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
  const endpoint =
    env.TABLESTORE_ENDPOINT || (region ? `https://${instance}.${region}.ots.aliyuncs.com` : '');
  if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
    throw new StateStoreError(
      'InvalidConfiguration',
      `TABLESTORE_ENDPOINT must be the instance's endpoint, e.g. https://${instance}.ap-southeast-1.ots.aliyuncs.com (or its VPC endpoint)`,
      { variable: 'TABLESTORE_ENDPOINT' },
    );
  }
  return { instance, table, endpoint: endpoint.replace(/\/$/, '') };
}

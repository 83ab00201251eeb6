import { describe, expect, it } from 'vitest';
import { startTablestoreServer } from '../../local/tablestore-server';
import type { Credentials } from '../../shared/cams/types';
import { createStateStore, StateStoreError } from '../../shared/state';

const ROLE: Credentials = {
  accessKeyId: 'STS.TablestoreAclKey',
  accessKeySecret: 'tablestore-acl-secret',
  securityToken: 'tablestore-acl-token',
};

describe('tablestore store behind an instance network ACL', () => {
  it('turns "Request denied by instance ACL policies" into InstanceAclDenied naming both fixes', async () => {
    const server = await startTablestoreServer({
      instance: 'cfw-acl',
      credentials: [ROLE],
      deniedByAcl: true,
    });
    try {
      const store = await createStateStore('tablestore://cfw-acl/flow_state', {
        credentials: ROLE,
        env: { TABLESTORE_ENDPOINT: server.endpoint },
      });
      const failure = await store.get('flow/-/1').catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(StateStoreError);
      expect(failure).toMatchObject({ code: 'InstanceAclDenied', retryable: false });
      const message = (failure as Error).message;
      expect(message).toContain('OTSAuthFailed');
      expect(message).toMatch(/allow Internet access/);
      expect(message).toContain('s.vpc.yaml');
      expect(message).toContain('https://cfw-acl.<region>.vpc.tablestore.aliyuncs.com');
      expect(message).not.toContain(ROLE.accessKeySecret);
      expect(message).not.toContain(String(ROLE.securityToken));
      expect(server.calls.map((call) => call.code)).toEqual(['OTSAuthFailed']);
    } finally {
      await server.close();
    }
  });
});

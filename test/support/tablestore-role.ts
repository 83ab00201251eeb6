import type { Credentials } from '../../shared/cams/types';

/** The STS credentials the loopback Tablestore server accepts in the state store tests. */
export const TABLESTORE_ROLE: Credentials = {
  accessKeyId: 'STS.TablestoreRoleKey',
  accessKeySecret: 'tablestore-role-secret',
  securityToken: 'tablestore-security-token',
};

import OpenApiUtil from '@alicloud/openapi-util';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRpcRequest } from '../../shared/cams/rpc-request';
import { formatAcsDate, sha256Hex, signRequest } from '../../shared/cams/signer';
import { startCaptureServer } from '../support/capture-server';

const workedExample = {
  method: 'POST',
  host: 'ecs.cn-shanghai.aliyuncs.com',
  path: '/',
  query: { ImageId: 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd', RegionId: 'cn-shanghai' },
  headers: { 'x-acs-action': 'RunInstances', 'x-acs-version': '2014-05-26' },
  body: '',
  credentials: { accessKeyId: 'YourAccessKeyId', accessKeySecret: 'YourAccessKeySecret' },
  date: '2023-10-26T10:22:32Z',
  nonce: '3156853299f313e23d1673dc12e1703d',
};

describe('signer', () => {
  it('reproduces the official worked example', () => {
    const signed = signRequest(workedExample);
    expect(sha256Hex(signed.canonicalRequest)).toBe(
      '7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259',
    );
    expect(signed.signature).toBe('06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0');
    expect(signed.headers.authorization).toBe(
      'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0',
    );
    expect(signed.headers['x-acs-content-sha256']).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('agrees with the official openapi-util on the worked example', () => {
    const signed = signRequest(workedExample);
    const official = OpenApiUtil.getAuthorization(
      { pathname: '/', method: 'POST', query: workedExample.query, headers: signed.headers } as never,
      'ACS3-HMAC-SHA256',
      signed.headers['x-acs-content-sha256'] ?? '',
      'YourAccessKeyId',
      'YourAccessKeySecret',
    );
    expect(official).toBe(signed.headers.authorization);
  });

  it('signs the security token of STS credentials', () => {
    const signed = signRequest({
      ...workedExample,
      credentials: { ...workedExample.credentials, securityToken: 'token-value' },
    });
    expect(signed.headers['x-acs-security-token']).toBe('token-value');
    expect(signed.headers.authorization).toContain('x-acs-security-token');
    expect(signed.signature).not.toBe('06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0');
  });

  it('formats x-acs-date at second precision in UTC', () => {
    expect(formatAcsDate(Date.UTC(2023, 9, 26, 10, 22, 32, 987))).toBe('2023-10-26T10:22:32Z');
  });
});

describe('signed GetFlow requests on the wire', () => {
  let server: Awaited<ReturnType<typeof startCaptureServer>>;
  beforeAll(async () => {
    server = await startCaptureServer();
  });
  afterAll(() => server.close());

  const awkwardId = fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }),
    fc.constantFrom('a*b', '~tilde~', 'with space', '1+1', '100%', '%2A', "!'()", '流程-１'),
  );

  it('sends byte for byte what it signed, for any FlowId/CustSpaceId, with and without a token', async () => {
    await fc.assert(
      fc.asyncProperty(
        awkwardId,
        fc.option(awkwardId, { nil: undefined }),
        fc.option(
          fc.string({ minLength: 1, maxLength: 40 }).filter((token) => token.trim() === token),
          { nil: undefined },
        ),
        async (flowId, custSpaceId, securityToken) => {
          const credentials = { accessKeyId: 'STS.test', accessKeySecret: 'secret-value', securityToken };
          const fields: Array<[string, string]> = [];
          if (custSpaceId !== undefined) fields.push(['CustSpaceId', custSpaceId]);
          fields.push(['FlowId', flowId]);
          const built = buildRpcRequest({
            endpoint: new URL(server.endpoint),
            action: 'GetFlow',
            fields,
            credentials,
            nowMs: Date.UTC(2026, 0, 1),
            nonce: 'nonce-1',
          });
          const before = server.captured.length;
          const response = await request(built.url, {
            method: 'POST',
            headers: built.headers,
            body: built.body,
          });
          await response.body.dump();
          const received = server.captured[before];
          if (!received) throw new Error('nothing captured');

          // The body decodes to exactly the ids given, and its hash is what was signed.
          const decoded = new URLSearchParams(received.body.toString('utf8'));
          expect(decoded.get('FlowId')).toBe(flowId);
          expect(decoded.get('CustSpaceId')).toBe(custSpaceId ?? null);
          expect(received.headers['x-acs-content-sha256']).toBe(sha256Hex(received.body));
          expect(received.method).toBe('POST');
          expect(received.url).toBe('/');

          // The official library, given what arrived, computes the signature that was sent.
          const arrivedHeaders = Object.fromEntries(
            Object.entries(received.headers).map(([name, value]) => [name, String(value)]),
          );
          const official = OpenApiUtil.getAuthorization(
            { pathname: '/', method: 'POST', query: {}, headers: arrivedHeaders } as never,
            'ACS3-HMAC-SHA256',
            sha256Hex(received.body),
            credentials.accessKeyId,
            credentials.accessKeySecret,
          );
          expect(received.headers.authorization).toBe(official);
          expect(received.headers['x-acs-security-token']).toBe(securityToken);
        },
      ),
      { numRuns: 150 },
    );
  });
});

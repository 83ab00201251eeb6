import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Cams, * as $Cams from '@alicloud/cams20200606';
import * as $OpenApi from '@alicloud/openapi-client';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CamsSimulator,
  SIMULATOR_ACCESS_KEY,
  SIMULATOR_CREDENTIALS,
  startCamsSimulator,
} from '../../local/cams-simulator';
import { canonicalRequestOf, expectedSignature, rfc3986 } from '../../local/cams-simulator/acs3-verifier';
import { createCamsClient } from '../../shared/cams';
import { formatAcsDate, signRequest } from '../../shared/cams/signer';
import { VirtualClock } from '../support/virtual-clock';

const FLOW = { flowId: '926753328126431', flowName: 'flow_001', status: 'DRAFT', categories: ['SIGN_UP'] };

describe('simulator signature check', () => {
  it('reproduces the official worked example independently of the client signer', () => {
    const headers = {
      host: 'ecs.cn-shanghai.aliyuncs.com',
      'x-acs-action': 'RunInstances',
      'x-acs-version': '2014-05-26',
      'x-acs-date': '2023-10-26T10:22:32Z',
      'x-acs-signature-nonce': '3156853299f313e23d1673dc12e1703d',
      'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    };
    const canonical = canonicalRequestOf(
      {
        method: 'POST',
        target: '/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai',
        headers,
        body: Buffer.alloc(0),
      },
      Object.keys(headers).sort(),
    );
    expect(createHash('sha256').update(canonical).digest('hex')).toBe(
      '7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259',
    );
    expect(expectedSignature(canonical, 'YourAccessKeySecret')).toBe(
      '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0',
    );
  });

  it('encodes per RFC 3986', () => {
    expect(rfc3986("a b*c~d!'()流")).toBe('a%20b%2Ac~d%21%27%28%29%E6%B5%81');
  });
});

describe('CAMS simulator', () => {
  let simulator: CamsSimulator | undefined;
  afterEach(async () => {
    await simulator?.close();
    simulator = undefined;
  });

  it('serves https with a given certificate, as CAMS endpoints do, and checks signatures there too', async () => {
    const fixtures = join(__dirname, '../fixtures');
    const cert = readFileSync(join(fixtures, 'loopback-tls.crt'));
    simulator = await startCamsSimulator({
      flows: [FLOW],
      tls: { key: readFileSync(join(fixtures, 'loopback-tls.key')), cert },
    });
    expect(simulator.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = new Agent({ connect: { ca: cert } });
    try {
      const client = createCamsClient({ endpoint: simulator.endpoint, dispatcher });
      const flow = await client.getFlow(
        { flowId: FLOW.flowId, custSpaceId: undefined },
        { credentials: SIMULATOR_CREDENTIALS },
      );
      expect(flow).toMatchObject({ flowId: FLOW.flowId, status: 'DRAFT' });
      await expect(
        client.getFlow(
          { flowId: FLOW.flowId, custSpaceId: undefined },
          { credentials: { ...SIMULATOR_CREDENTIALS, accessKeySecret: 'wrong' } },
        ),
      ).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    } finally {
      await dispatcher.close();
    }
  });

  it('answers the official SDK with the documented GetFlow body', async () => {
    simulator = await startCamsSimulator({ flows: [FLOW] });
    const official = new Cams(
      new $OpenApi.Config({
        accessKeyId: SIMULATOR_CREDENTIALS.accessKeyId,
        accessKeySecret: SIMULATOR_CREDENTIALS.accessKeySecret,
        securityToken: SIMULATOR_CREDENTIALS.securityToken ?? '',
        endpoint: simulator.endpoint.replace('http://', ''),
        protocol: 'http',
      }),
    );
    const answer = await official.getFlow(new $Cams.GetFlowRequest({ flowId: FLOW.flowId }));
    expect(answer.body?.code).toBe('OK');
    expect(answer.body?.data).toMatchObject({
      flowId: FLOW.flowId,
      flowName: FLOW.flowName,
      status: 'DRAFT',
      categories: ['SIGN_UP'],
      previewUrl: expect.stringContaining(FLOW.flowId),
    });
    expect(answer.body?.data?.previewUrlExpires).toBeGreaterThan(Date.now());
  });

  it.each([
    ['signed', 200, 'OK', true],
    ['sent but not signed', 400, 'IncompleteSignature', false],
  ])('a content-type %s is answered %s %s', async (_name, httpStatus, code, isContentTypeSigned) => {
    simulator = await startCamsSimulator({ flows: [FLOW] });
    const body = `FlowId=${FLOW.flowId}`;
    const contentType = { 'content-type': 'application/x-www-form-urlencoded' };
    const signed = signRequest({
      method: 'POST',
      host: new URL(simulator.endpoint).host,
      path: '/',
      query: {},
      headers: {
        'x-acs-action': 'GetFlow',
        'x-acs-version': '2020-06-06',
        ...(isContentTypeSigned ? contentType : {}),
      },
      body,
      credentials: SIMULATOR_ACCESS_KEY,
      date: formatAcsDate(Date.now()),
      nonce: `content-type-${isContentTypeSigned}`,
    });
    const answer = await request(`${simulator.endpoint}/`, {
      method: 'POST',
      headers: { ...signed.headers, ...contentType },
      body,
    });
    const json = (await answer.body.json()) as { Code: string; Message: string };
    expect({ httpStatus: answer.statusCode, code: json.Code }).toEqual({ httpStatus, code });
    if (!isContentTypeSigned) expect(json.Message).toContain('UnsignedRequiredHeader');
  });

  it('rejects an STS key without its security token', async () => {
    simulator = await startCamsSimulator({ flows: [FLOW] });
    const client = createCamsClient({ endpoint: simulator.endpoint, maxAttempts: 1 });
    const withoutToken = { ...SIMULATOR_CREDENTIALS, securityToken: undefined };
    await expect(
      client.getFlow({ flowId: FLOW.flowId }, { credentials: withoutToken }),
    ).rejects.toMatchObject({
      code: 'MissingSecurityToken',
    });
    const wrongToken = { ...SIMULATOR_CREDENTIALS, securityToken: 'other-token' };
    await expect(client.getFlow({ flowId: FLOW.flowId }, { credentials: wrongToken })).rejects.toMatchObject({
      code: 'InvalidSecurityToken.MismatchWithAccessKey',
    });
  });

  it('admits 5 calls per rolling second per account, refused ones counted, and answers System.LimitControl beyond', async () => {
    const clock = new VirtualClock();
    simulator = await startCamsSimulator({ flows: [FLOW], clock });
    // The client's own limiter is off here (huge qps) so the simulator's limit is what is tested.
    const client = createCamsClient({ endpoint: simulator.endpoint, qps: 1000, maxAttempts: 1, clock });
    const burst = () =>
      Promise.allSettled(
        Array.from({ length: 7 }, () =>
          client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_ACCESS_KEY }),
        ),
      );
    const first = await burst();
    expect(first.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    expect(simulator.calls.filter((call) => call.code === 'System.LimitControl')).toHaveLength(2);
    clock.advance(999);
    const stillLimited = await burst();
    expect(stillLimited.filter((result) => result.status === 'fulfilled')).toHaveLength(0);
    clock.advance(1);
    // The first burst has left the window, but the 7 refused calls of the second are in it.
    const refusedCount = await burst();
    expect(refusedCount.filter((result) => result.status === 'fulfilled')).toHaveLength(0);
    clock.advance(1000);
    const nextWindow = await burst();
    expect(nextWindow.filter((result) => result.status === 'fulfilled')).toHaveLength(5);
    simulator.setRateLimit(false);
    const unlimited = await burst();
    expect(unlimited.filter((result) => result.status === 'fulfilled')).toHaveLength(7);
  });

  it('plays a scripted status over time', async () => {
    const clock = new VirtualClock();
    simulator = await startCamsSimulator({ flows: [FLOW], clock, rateLimit: false });
    const client = createCamsClient({ endpoint: simulator.endpoint, clock });
    const status = async () =>
      (await client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS })).status;
    simulator.scriptStatus(FLOW.flowId, [
      { afterMs: 1000, status: 'PUBLISHED' },
      { afterMs: 5000, status: 'THROTTLED' },
    ]);
    expect(await status()).toBe('DRAFT');
    clock.advance(1000);
    expect(await status()).toBe('PUBLISHED');
    clock.advance(4000);
    expect(await status()).toBe('THROTTLED');
    simulator.setStatus(FLOW.flowId, 'BLOCKED');
    expect(await status()).toBe('BLOCKED');
  });

  it('renews an expired preview URL', async () => {
    const clock = new VirtualClock();
    simulator = await startCamsSimulator({
      flows: [{ ...FLOW, previewUrlTtlMs: 60_000 }],
      clock,
      rateLimit: false,
    });
    const client = createCamsClient({ endpoint: simulator.endpoint, clock });
    const first = await client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS });
    clock.advance(30_000);
    const same = await client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS });
    clock.advance(30_000);
    const renewed = await client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS });
    expect(same.previewUrl).toBe(first.previewUrl);
    expect(renewed.previewUrl).not.toBe(first.previewUrl);
    expect(Date.parse(renewed.previewUrlExpiresAt ?? '')).toBe(clock.now() + 60_000);
  });

  it('lists flows of one cust space in pages, and forgets deleted flows', async () => {
    const flows = Array.from({ length: 25 }, (_, index) => ({
      flowId: String(800000000000000 + index),
      custSpaceId: 'cams-space',
      flowName: `flow_${index}`,
      status: 'PUBLISHED',
    }));
    simulator = await startCamsSimulator({ flows: [FLOW, ...flows], rateLimit: false });
    const client = createCamsClient({ endpoint: simulator.endpoint });
    const page = (pageIndex: number) =>
      client.listFlows(
        { custSpaceId: 'cams-space', pageIndex, pageSize: 10 },
        { credentials: SIMULATOR_CREDENTIALS },
      );
    expect((await page(1)).flows).toHaveLength(10);
    expect((await page(3)).flows).toHaveLength(5);
    simulator.deleteFlow(String(800000000000000), 'cams-space');
    expect((await page(3)).flows).toHaveLength(4);
    await expect(
      client.getFlow(
        { flowId: FLOW.flowId, custSpaceId: 'cams-space' },
        { credentials: SIMULATOR_CREDENTIALS },
      ),
    ).rejects.toMatchObject({ code: 'Unknown.ResourceOwnerId' });
  });

  it('records calls without secrets', async () => {
    simulator = await startCamsSimulator({ flows: [FLOW] });
    const client = createCamsClient({ endpoint: simulator.endpoint });
    await client.getFlow({ flowId: FLOW.flowId }, { credentials: SIMULATOR_CREDENTIALS });
    expect(simulator.calls).toEqual([
      expect.objectContaining({ action: 'GetFlow', flowId: FLOW.flowId, httpStatus: 200, code: 'OK' }),
    ]);
    const serialised = JSON.stringify(simulator.calls);
    expect(serialised).not.toContain(SIMULATOR_CREDENTIALS.accessKeySecret);
    expect(serialised).not.toContain(SIMULATOR_CREDENTIALS.securityToken);
  });
});

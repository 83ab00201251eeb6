import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROUTES } from '../../functions/http/routes';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from '../../local/cams-simulator';
import { fcContext } from '../../local/fc-emulator';
import { coldStart } from './harness';
import { headGaps, openApiDocument, undocumented } from './openapi-check';

let simulator: CamsSimulator;
beforeAll(async () => {
  simulator = await startCamsSimulator({
    rateLimit: false,
    flows: [{ flowId: '1', flowName: 'f', status: 'DRAFT' }],
  });
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await simulator.close();
});

const text = fc.string({ maxLength: 60 });
const headers = fc.dictionary(
  fc.oneof(fc.constantFrom('Authorization', 'authorization', 'If-None-Match', 'X-Forwarded-For'), text),
  fc.oneof(text, fc.array(text)),
);
const fcShapedEvent = fc.record(
  {
    version: fc.oneof(fc.constant('v1'), text),
    rawPath: fc.oneof(
      fc.webPath(),
      text,
      fc.constantFrom(
        '/flows/1',
        '/flows/1/preview',
        '/healthz',
        '/flows/%E0%A4%A',
        '/flows//preview',
        '/flows/1?x=1',
      ),
    ),
    body: fc.oneof(text, fc.constant(null)),
    isBase64Encoded: fc.oneof(fc.boolean(), fc.constant(null)),
    headers: fc.oneof(headers, fc.constant(null)),
    queryParameters: fc.oneof(
      fc.dictionary(fc.oneof(fc.constant('custSpaceId'), text), fc.oneof(text, fc.array(text))),
      fc.constant(null),
    ),
    requestContext: fc.oneof(
      fc.record({
        http: fc.record({ method: fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS', 'get'), text) }),
      }),
      fc.constant(null),
    ),
  },
  { requiredKeys: [] },
);
const anyEvent = fc.oneof(
  fcShapedEvent.map((event) => Buffer.from(JSON.stringify(event))),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
  fc.constantFrom(Buffer.alloc(0), Buffer.from('{"rawPath":'), Buffer.from('[]'), Buffer.from('null')),
);

describe('HTTP function robustness', () => {
  it('never throws and never answers 500 for a malformed request', async () => {
    const fn = coldStart({
      CAMS_ENDPOINT: simulator.endpoint,
      HTTP_API_TOKENS: 'token-1',
      HTTP_AUTH: undefined,
      HTTP_CACHE_TTL_SECONDS: '5',
    });
    await fc.assert(
      fc.asyncProperty(anyEvent, async (event) => {
        const answer = (await fn.handler(event, fcContext({ credentials: SIMULATOR_CREDENTIALS }))) as {
          statusCode: number;
          body: string;
        };
        expect(answer.statusCode).toBeGreaterThanOrEqual(200);
        expect(answer.statusCode).toBeLessThan(500);
        expect(answer.body).not.toMatch(/\n\s+at /);
      }),
      { numRuns: 400 },
    );
  });

  it('survives a missing or odd context', async () => {
    const fn = coldStart({ CAMS_ENDPOINT: simulator.endpoint, HTTP_API_TOKENS: 'token-1' });
    const event = Buffer.from(JSON.stringify({ version: 'v1', rawPath: '/healthz' }));
    for (const context of [undefined, null, {}, { requestId: 42, function: 'x' }]) {
      const answer = (await fn.handler(event, context as never)) as { statusCode: number };
      expect(answer.statusCode).toBe(200);
    }
  });
});

describe('OpenAPI description', () => {
  it('is OpenAPI 3.1', () => {
    expect(openApiDocument.openapi).toBe('3.1.0');
  });

  it('documents every route, method and status the handler answers to probes', async () => {
    const fn = coldStart({ CAMS_ENDPOINT: simulator.endpoint, HTTP_API_TOKENS: 'token-1' });
    const probes: Array<[string, string, string, Record<string, string>]> = [
      ['/healthz', 'GET', '/healthz', {}],
      ['/healthz', 'HEAD', '/healthz', {}],
      ['/healthz', 'POST', '/healthz', {}],
      ['/flows/{flowId}', 'GET', '/flows/1', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}', 'GET', '/flows/2', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}', 'GET', '/flows/1', {}],
      ['/flows/{flowId}', 'GET', '/flows/a%20b', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}', 'HEAD', '/flows/1', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}', 'POST', '/flows/1', {}],
      ['/flows/{flowId}/preview', 'GET', '/flows/1/preview', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}/preview', 'HEAD', '/flows/1/preview', { authorization: 'Bearer token-1' }],
      ['/flows/{flowId}/preview', 'GET', '/flows/1/preview', {}],
      ['/flows/{flowId}/preview', 'PUT', '/flows/1/preview', {}],
    ];
    const seen = new Set<string>();
    for (const [template, method, path, probeHeaders] of probes) {
      const { fcHttpEvent } = await import('../../local/fc-emulator');
      const answer = (await fn.handler(
        fcHttpEvent({ method, path, headers: probeHeaders }),
        fcContext({ credentials: SIMULATOR_CREDENTIALS }),
      )) as { statusCode: number };
      seen.add(`${template} ${method} ${answer.statusCode}`);
    }
    expect(undocumented(seen)).toEqual([]);
  });

  it('documents for HEAD every status GET documents: HEAD runs the same route and drops the body', () => {
    expect(headGaps()).toEqual([]);
  });

  it('documents what every route and method answers with a bad configuration, without a token or credentials, and served', async () => {
    const concrete = (template: string) =>
      template.replace('{flowId}', '1').replace('{eventId}', `evt_${'0'.repeat(32)}`);
    const callers: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer token-1', accept: 'text/html' },
      { authorization: 'Bearer admin-1' },
    ];
    const seen = new Set<string>();
    // HTTP_CACHE_TTL_SECONDS=abc: every route that reads the configuration answers 500 InvalidConfiguration.
    for (const cacheTtl of ['abc', '5']) {
      const fn = coldStart({
        CAMS_ENDPOINT: simulator.endpoint,
        HTTP_API_TOKENS: 'token-1',
        HTTP_ADMIN_TOKENS: 'admin-1',
        HTTP_AUTH: undefined,
        HTTP_CACHE_TTL_SECONDS: cacheTtl,
      });
      for (const route of ROUTES) {
        for (const method of [...route.methods, 'DELETE']) {
          for (const headers of callers) {
            for (const credentials of [SIMULATOR_CREDENTIALS, undefined]) {
              const answer = await fn.invoke(
                { method, path: concrete(route.template), headers },
                { credentials },
              );
              seen.add(`${route.template} ${method} ${answer.statusCode}`);
            }
          }
        }
      }
    }
    expect(seen).toContain('/flows/{flowId}/preview GET 500');
    expect(seen).toContain('/flows/{flowId}/preview HEAD 503');
    expect(undocumented(seen)).toEqual([]);
  });
});

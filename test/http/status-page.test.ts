import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Answer, coldStart, observed } from './harness';
import { undocumented } from './openapi-check';

const env = {
  HTTP_API_TOKENS: 'page-token',
  HTTP_AUTH: undefined,
  STATE_URL: 'file:/nonexistent/never-read',
};
const record = (method: string, answer: Answer) => {
  observed.add(`/ ${method} ${answer.statusCode}`);
  return answer;
};
const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

beforeAll(() => {
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterAll(() => {
  vi.restoreAllMocks();
});

describe('status page', () => {
  it('serves one self-contained HTML document without a token, locked down by its CSP', async () => {
    const answer = record(
      'GET',
      await coldStart(env).invoke({
        path: '/',
        headers: { accept: 'text/html,application/xhtml+xml;q=0.9' },
      }),
    );
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    // No external assets: nothing loaded by URL, no absolute http(s) reference at all.
    expect(answer.body).not.toMatch(/\s(src|href)=/i);
    expect(answer.body).not.toMatch(/https?:\/\//);
    const csp = answer.headers['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    // The hashes allow exactly the inline style and script the page carries, nothing else.
    const script = /<script>([\s\S]*)<\/script>/.exec(answer.body)?.[1] ?? '';
    const style = /<style>([\s\S]*)<\/style>/.exec(answer.body)?.[1] ?? '';
    expect(csp).toContain(`script-src ${hashOf(script)}`);
    expect(csp).toContain(`style-src ${hashOf(style)}`);
    expect(answer.body).toContain('sessionStorage');
    expect(answer.body).not.toContain('innerHTML');
  });

  it('answers 406 to a client that does not accept HTML, and HEAD without a body', async () => {
    const fn = coldStart(env);
    const json = record('GET', await fn.invoke({ path: '/', headers: { accept: 'application/json' } }));
    expect(json.statusCode).toBe(406);
    expect(JSON.parse(json.body).error.code).toBe('NotAcceptable');
    const head = record(
      'HEAD',
      await fn.invoke({ method: 'HEAD', path: '/', headers: { accept: 'text/html' } }),
    );
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    expect(record('POST', await fn.invoke({ method: 'POST', path: '/' })).statusCode).toBe(405);
  });

  it('is documented in openapi.yaml', () => {
    expect(undocumented(observed)).toEqual([]);
  });
});

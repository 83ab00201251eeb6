import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFcHttp } from '../../local/fc-emulator';
import { createStateStore } from '../../shared/state';
import { type PollerWorld, startPollerWorld } from '../poller/harness';
import { httpFunction } from './harness';

/** Debian's `chromium` package; .ci/run installs it when missing, so CI always runs this file. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasBrowser = existsSync(CHROMIUM);
if (!hasBrowser) {
  const hint = `status page browser test: no browser at ${CHROMIUM}. Install one with \`sudo apt-get install -y chromium\` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium binary.`;
  // CI sets REQUIRE_BROWSER so a missing browser fails there instead of passing quietly.
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(hint);
  console.warn(hint);
}

const TOKEN = 'status-page-token';
const HOSTILE_NAME = '<img src=x onerror="document.body.dataset.pwned=1"></script><script>alert(1)</script>';
const FLOWS = [
  { flowId: '930000000000001', flowName: 'booking', status: 'PUBLISHED' },
  { flowId: '930000000000002', flowName: HOSTILE_NAME, status: 'PUBLISHED' },
  { flowId: '930000000000003', custSpaceId: 'cams-page-space', flowName: 'support', status: 'DRAFT' },
];

interface OverviewFlow {
  flowId: string;
  custSpaceId: string | null;
  flowName: string;
  status: string | null;
  pending: number;
  dead: number;
}
interface Overview {
  totals: { flows: number; pending: number; dead: number };
  flows: OverviewFlow[];
}

let world: PollerWorld;
/** The trigger as reached through a custom domain bound to the function. */
let server: { url: string; close(): Promise<void> };
/** The same function on FC's default *.fcapp.run domain, which forces downloads. */
let defaultDomain: { url: string; close(): Promise<void> };
let browser: Browser;
let http: ReturnType<typeof httpFunction>;

async function change(flowId: string, status: string, custSpaceId?: string): Promise<void> {
  world.simulator.setStatus(flowId, status, custSpaceId);
  world.clock.advance(121_000);
  await world.run();
}

async function apiOverview(): Promise<Overview> {
  const answer = await fetch(`${server.url}/overview`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(answer.status).toBe(200);
  return (await answer.json()) as Overview;
}

async function rowsOf(page: Page) {
  return page.$$eval('#flows tbody tr.flow', (rows) =>
    rows.map((row) => ({
      flowId: row.getAttribute('data-flow-id'),
      name: row.querySelector('td.name')?.textContent,
      status: row.querySelector('td.status .badge')?.textContent,
      badge: row.querySelector('td.status .badge')?.className,
      pending: Number(row.querySelector('td.pending')?.textContent),
      dead: Number(row.querySelector('td.dead')?.textContent),
      images: row.querySelectorAll('img').length,
    })),
  );
}

describe.skipIf(!hasBrowser)('status page in a real browser', () => {
  beforeAll(async () => {
    const stateDirectory = mkdtempSync(join(tmpdir(), 'cfw-page-'));
    world = await startPollerWorld({
      flows: FLOWS,
      webhookMaxAgeHours: 1,
      openStore: () => createStateStore(`file:${stateDirectory}`),
    });
    // History from real poller runs: changes delivered, one dead-lettered, one still owed.
    await world.run();
    await change('930000000000001', 'THROTTLED');
    await change('930000000000002', 'BLOCKED');
    world.receiver.setResponse(500);
    await change('930000000000001', 'BLOCKED');
    world.clock.advance(2 * 3600_000);
    await world.run();
    await change('930000000000003', 'PUBLISHED', 'cams-page-space');

    // The built bundle on FC's instances, with only the function's variables as its environment.
    http = httpFunction(
      {
        STATE_URL: `file:${stateDirectory}`,
        HTTP_API_TOKENS: TOKEN,
        HTTP_ADMIN_TOKENS: '',
        HTTP_AUTH: '',
        CAMS_ENDPOINT: world.simulator.endpoint,
      },
      { log: () => undefined },
    );
    server = await serveFcHttp(http.fn, { host: '127.0.0.1', customDomain: true });
    defaultDomain = await serveFcHttp(http.fn, { host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await defaultDomain?.close();
    await http?.fn.close();
    await world?.close();
  });

  it("is downloaded, not shown, on FC's default domain; JSON callers read the same answers", async () => {
    const page = await fetch(`${defaultDomain.url}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-disposition')).toBe('attachment');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const api = await fetch(`${defaultDomain.url}/overview`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(api.status).toBe(200);
    expect(((await api.json()) as Overview).totals.flows).toBe(3);
    expect((await fetch(`${server.url}/`)).headers.get('content-disposition')).toBeNull();

    const context = await browser.newContext({ acceptDownloads: true });
    const tab = await context.newPage();
    const [download] = await Promise.all([
      tab.waitForEvent('download', { timeout: 60_000 }),
      tab.goto(`${defaultDomain.url}/`).catch(() => undefined),
    ]);
    expect(download.url()).toBe(`${defaultDomain.url}/`);
    await context.close();
  }, 120_000);

  it('asks for a token once, then shows every flow with the numbers the API gives', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });

    await page.goto(`${server.url}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    // A selector, not a string predicate: evaluating a string is eval, which the page's CSP forbids.
    await page.waitForSelector('#login-error:not(:empty)', { state: 'attached' });
    expect(await page.textContent('#login-error')).toContain('not accepted');

    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('body[data-state=ready]');

    const api = await apiOverview();
    expect(api.totals).toMatchObject({ flows: 3, pending: 1, dead: 1 });
    expect(await page.textContent('#total-flows')).toBe(String(api.totals.flows));
    expect(await page.textContent('#total-pending')).toBe(String(api.totals.pending));
    expect(await page.textContent('#total-dead')).toBe(String(api.totals.dead));
    const rows = await rowsOf(page);
    expect(rows).toHaveLength(api.flows.length);
    for (const flow of api.flows) {
      const row = rows.find((candidate) => candidate.flowId === flow.flowId);
      expect(row).toMatchObject({
        name: flow.flowName,
        status: flow.status,
        pending: flow.pending,
        dead: flow.dead,
      });
    }
    expect(rows.find((row) => row.status === 'BLOCKED')?.badge).toBe('badge bad');

    // The hostile name is shown as text; nothing in it ran or became markup.
    const hostile = rows.find((row) => row.flowId === '930000000000002');
    expect(hostile?.name).toBe(HOSTILE_NAME);
    expect(hostile?.images).toBe(0);
    expect(await page.evaluate('document.body.dataset.pwned')).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(cspViolations).toEqual([]);

    // Kept for the tab's session: a reload shows the data without asking again ...
    await page.reload();
    await page.waitForSelector('body[data-state=ready]');
    expect(await page.isHidden('#login')).toBe(true);
    expect(await page.evaluate("sessionStorage.getItem('cams-flow-watch.token')")).toBe(TOKEN);
    await context.close();

    // ... and a new session asks again.
    const fresh = await browser.newContext();
    const freshPage = await fresh.newPage();
    await freshPage.goto(`${server.url}/`);
    await freshPage.waitForSelector('#login:not([hidden])');
    await fresh.close();
  }, 120_000);
});

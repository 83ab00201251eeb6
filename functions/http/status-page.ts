import { createHash } from 'node:crypto';
import type { HttpRequest } from './fc-event';
import { HttpError } from './http-error';
import type { OperatorAnswer } from './json-answer';

/**
 * The status page: one self-contained HTML document (no external assets, so it works behind
 * any proxy and leaks no referrer). It holds no data itself: its script asks for a token once,
 * keeps it in sessionStorage (gone with the tab) and reads `GET /overview` with it. Everything
 * from data is set with textContent, never parsed as HTML — flow names are attacker-chosen.
 */
const STYLE = `
:root{font:14px/1.4 system-ui,sans-serif;color:#1d2329;background:#f6f7f9}
body{margin:0 auto;max-width:72rem;padding:1rem}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
h1{font-size:1.3rem;margin:0}
#totals span{margin-right:1rem}
table{border-collapse:collapse;width:100%;margin-top:1rem;background:#fff}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #e3e6ea}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.warn-num{color:#a15c00;font-weight:600}td.bad-num{color:#b3261e;font-weight:600}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.8rem;font-weight:600;background:#e3e6ea}
.badge.ok{background:#d7f2de;color:#0f5c2a}.badge.warn{background:#ffedc2;color:#7a4b00}
.badge.bad{background:#ffd9d6;color:#8c1d18}.badge.draft{background:#dde7f7;color:#1f3f73}
.badge.old{background:#e3e6ea;color:#4b535c}
form{margin-top:2rem}input{font:inherit;padding:.3rem;width:20rem;max-width:100%}
button{font:inherit;padding:.3rem .8rem}
[role=alert]{color:#b3261e}
`;

const SCRIPT = `
(() => {
  'use strict';
  const KEY = 'cams-flow-watch.token';
  const BADGES = { PUBLISHED: 'ok', DRAFT: 'draft', THROTTLED: 'warn', BLOCKED: 'bad', DEPRECATED: 'old' };
  const byId = (id) => document.getElementById(id);
  const when = (value) => {
    if (!value) return '—';
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  };
  const cell = (row, text, className) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  };
  const show = (id, visible) => { byId(id).hidden = !visible; };

  function ask(message) {
    show('flows', false);
    show('login', true);
    byId('login-error').textContent = message || '';
    byId('token').focus();
  }

  function render(overview) {
    const body = byId('flows').tBodies[0];
    body.replaceChildren();
    for (const flow of overview.flows) {
      const row = document.createElement('tr');
      row.className = 'flow';
      row.dataset.flowId = String(flow.flowId);
      cell(row, flow.flowName || '(unnamed)', 'name');
      cell(row, flow.custSpaceId ? flow.custSpaceId + ' / ' + flow.flowId : String(flow.flowId), 'id');
      const status = flow.removed ? 'REMOVED' : flow.status || 'UNKNOWN';
      const badge = document.createElement('span');
      badge.className = 'badge ' + (Object.hasOwn(BADGES, status) ? BADGES[status] : 'other');
      badge.textContent = status;
      cell(row, '', 'status').appendChild(badge);
      cell(row, when(flow.statusSince), 'since');
      const checked = cell(row, when(flow.lastCheckedAt), 'checked');
      if (flow.lastError) checked.title = 'last check failed: ' + flow.lastError;
      cell(row, String(flow.pending), flow.pending > 0 ? 'num pending warn-num' : 'num pending');
      cell(row, String(flow.dead), flow.dead > 0 ? 'num dead bad-num' : 'num dead');
      body.appendChild(row);
    }
    byId('total-flows').textContent = String(overview.totals.flows);
    byId('total-pending').textContent = String(overview.totals.pending);
    byId('total-dead').textContent = String(overview.totals.dead);
    byId('generated').textContent = 'as of ' + when(overview.generatedAt);
    show('login', false);
    show('flows', true);
    show('totals', true);
    show('forget', Boolean(sessionStorage.getItem(KEY)));
    document.body.dataset.state = 'ready';
  }

  async function load() {
    const token = sessionStorage.getItem(KEY);
    byId('error').textContent = '';
    let answer;
    try {
      answer = await fetch('overview', {
        headers: token ? { authorization: 'Bearer ' + token } : {},
        cache: 'no-store',
      });
    } catch (error) {
      byId('error').textContent = 'The API cannot be reached: ' + error.message;
      return;
    }
    if (answer.status === 401) {
      sessionStorage.removeItem(KEY);
      ask(token ? 'That token was not accepted.' : '');
      return;
    }
    const payload = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      byId('error').textContent = 'The API answered ' + answer.status + ': ' + ((payload.error && payload.error.message) || '');
      return;
    }
    render(payload);
  }

  byId('login').addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    const token = byId('token').value.trim();
    if (!token) return;
    sessionStorage.setItem(KEY, token);
    byId('token').value = '';
    load();
  });
  byId('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    ask('');
  });
  byId('refresh').addEventListener('click', load);
  load();
  setInterval(() => { if (!document.hidden && byId('login').hidden) load(); }, 30000);
})();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>cams-flow-watch status</title>
<style>${STYLE}</style>
</head>
<body data-state="loading">
<header>
<h1>cams-flow-watch</h1>
<p id="totals" hidden><span><b id="total-flows">0</b> flows</span><span><b id="total-pending">0</b> pending deliveries</span><span><b id="total-dead">0</b> dead letters</span><span id="generated"></span></p>
<button id="refresh" type="button">Refresh</button>
<button id="forget" type="button" hidden>Forget token</button>
</header>
<p id="error" role="alert"></p>
<form id="login" hidden>
<label>API token <input id="token" type="password" autocomplete="off" required></label>
<button type="submit">Show status</button>
<p id="login-error" role="alert"></p>
</form>
<table id="flows" hidden>
<thead><tr><th>Flow</th><th>Flow id</th><th>Status</th><th>Since</th><th>Last check</th><th>Pending</th><th>Dead</th></tr></thead>
<tbody></tbody>
</table>
<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

let csp: string | undefined;
/**
 * Only this page's own inline style and script run; it may talk to its own origin and nothing
 * else. Hashed on the page's first request, not at every cold start.
 */
function statusPageCsp(): string {
  csp ??= [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return csp;
}

export function statusPage(request: HttpRequest): OperatorAnswer {
  if (!(request.headers.accept ?? '').toLowerCase().includes('text/html')) {
    throw new HttpError(
      406,
      'NotAcceptable',
      'GET / serves the status page as text/html; the JSON API is /overview, /deliveries and /flows/{flowId}/history',
    );
  }
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': statusPageCsp(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      vary: 'Accept',
    },
    isBase64Encoded: false,
    body: HTML,
  };
}

/**
 * `npm start`: runs the two built bundles the way Function Compute runs them, on this machine,
 * with embedded defaults (CAMS simulator, webhook receiver, file state) unless the environment
 * points at real services.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Credentials } from '../shared/cams';
import { type CamsSimulator, SIMULATOR_CREDENTIALS, startCamsSimulator } from './cams-simulator';
import { DEFAULT_MAX_INSTANCES, FcFunction, fcTimerEvent, serveFcHttp } from './fc-emulator';
import { asyncRetryAttempts, functionEnvironment, memorySize } from './s-yaml';
import { LOCAL_CUST_SPACE_ID, SEED_FLOWS, SEED_SCRIPTS } from './seed';
import { takeStartLock } from './start-lock';
import { startWebhookReceiver } from './webhook-receiver';

const LOCAL_DIR = resolve('.local');

/** Per-status poll intervals short enough that the seeded changes show within the first minute. */
const LOCAL_POLL_INTERVALS = 'BLOCKED=5,THROTTLED=5,PUBLISHED=5,DRAFT=5,DEPRECATED=60,*=5';

function positiveInteger(name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : '';
    console.error(`${name} must be a positive integer${range}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/**
 * What to do when the port `variable` chose cannot be listened on, instead of Node's bare
 * EADDRINUSE. Only PORT can collide: the simulator and the receiver take a free port from the OS.
 */
function portProblem(error: unknown, variable: string, port: number, host: string): unknown {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return new Error(
        `port ${port} on ${host} is in use: set ${variable} to a free port (${variable}=${port < 65535 ? port + 1 : port - 1} npm start) or stop what uses it`,
        { cause: error },
      );
    case 'EACCES':
      return new Error(
        `port ${port} on ${host} needs privileges this user lacks: set ${variable} to a port above 1023`,
        { cause: error },
      );
    default:
      return error;
  }
}

function stableLocalSecret(file: string, make: () => string): string {
  const path = resolve(LOCAL_DIR, file);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    const value = make();
    writeFileSync(path, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

function realCredentials(): Credentials | undefined {
  const accessKeyId = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const accessKeySecret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  if (!accessKeyId || !accessKeySecret) return undefined;
  return {
    accessKeyId,
    accessKeySecret,
    securityToken: process.env.ALIBABA_CLOUD_SECURITY_TOKEN || undefined,
  };
}

async function main(): Promise<void> {
  mkdirSync(LOCAL_DIR, { recursive: true });
  const port = positiveInteger('PORT', 9000, 65_535);
  const pollIntervalSeconds = positiveInteger('LOCAL_POLL_INTERVAL_SECONDS', 10);
  const maxInstances = positiveInteger('LOCAL_MAX_INSTANCES', DEFAULT_MAX_INSTANCES);
  // Before anything in .local/ changes: a refused second start must leave the running one's state alone.
  const startLock = await takeStartLock(LOCAL_DIR, port);
  process.on('exit', () => startLock.release());
  // `npm start` builds here, under the lock: the build replaces dist/, which a running start's
  // emulator loads for every new instance, so a refused second start must not have built first.
  if (process.argv.includes('--build')) {
    const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('the build failed (see above)');
  }
  const env = process.env;
  // The HTTP function divides its share of the account among this many instances when the store fails.
  env.HTTP_MAX_INSTANCES = String(maxInstances);
  const closers: Array<() => Promise<void>> = [];
  const lines: string[] = [];

  // CAMS: the real service when an endpoint and keys are given, else the simulator.
  const cloudCredentials = realCredentials();
  let credentials: Credentials;
  let simulator: CamsSimulator | undefined;
  if (env.CAMS_ENDPOINT && cloudCredentials) {
    credentials = cloudCredentials;
    lines.push(
      `CAMS          ${env.CAMS_ENDPOINT} (real service, key ${credentials.accessKeyId.slice(0, 6)}…)`,
    );
  } else {
    simulator = await startCamsSimulator({ flows: [...SEED_FLOWS] });
    for (const script of SEED_SCRIPTS)
      simulator.scriptStatus(script.flowId, [...script.steps], script.custSpaceId);
    closers.push(() => simulator?.close() ?? Promise.resolve());
    credentials = SIMULATOR_CREDENTIALS;
    env.CAMS_ENDPOINT = simulator.endpoint;
    env.WATCH_FLOWS ??= SEED_FLOWS.map((flow) =>
      flow.custSpaceId ? `${flow.custSpaceId}:${flow.flowId}` : flow.flowId,
    ).join(',');
    env.POLL_INTERVALS ??= LOCAL_POLL_INTERVALS;
    lines.push(
      `CAMS          ${simulator.endpoint} (simulator: 5 calls/s, signatures checked; flows change in the first minute)`,
    );
  }

  // Webhook: a local receiver that verifies and prints each delivery, unless WEBHOOK_URL is set.
  if (!env.WEBHOOK_URL) {
    const secret = stableLocalSecret('webhook-secret', () => `whsec_${randomBytes(24).toString('base64')}`);
    const receiver = await startWebhookReceiver({
      secret,
      log: (delivery) => {
        let data: Record<string, unknown> = {};
        try {
          data = (JSON.parse(delivery.body) as { data?: Record<string, unknown> }).data ?? {};
        } catch {
          // Printed as received below.
        }
        console.log(
          `[webhook] ${delivery.verified ? 'verified' : 'UNVERIFIED'} ${delivery.type} ${String(data.flowId ?? '')}: ${String(data.previousStatus ?? '∅')} → ${String(data.status ?? 'removed')} (id ${delivery.id})`,
        );
      },
    });
    closers.push(() => receiver.close());
    env.WEBHOOK_URL = receiver.url;
    env.WEBHOOK_SECRET = secret;
    env.WEBHOOK_FORMAT = 'standard';
    lines.push(
      `Webhook       ${receiver.url} (local receiver: verifies Standard Webhooks signatures, prints deliveries)`,
    );
  } else {
    lines.push(
      `Webhook       ${new URL(env.WEBHOOK_URL.split(',')[0] ?? '').origin}… (${env.WEBHOOK_FORMAT ?? 'standard'})`,
    );
  }

  if (!env.STATE_URL) {
    // Simulated flows start over on every start, so their state does too (else a restart would
    // look like status changes).
    const stateDirectory = resolve(LOCAL_DIR, simulator ? 'state-simulator' : 'state');
    if (simulator) rmSync(stateDirectory, { recursive: true, force: true });
    env.STATE_URL = `file:${stateDirectory}`;
  }
  lines.push(`State         ${env.STATE_URL}`);
  env.CAMS_CUST_SPACE_ID ??= '';
  let token: string | undefined;
  if (!env.HTTP_API_TOKENS && env.HTTP_AUTH !== 'none') {
    token = stableLocalSecret('api-token', () => randomBytes(24).toString('base64url'));
    env.HTTP_API_TOKENS = token;
  }
  let adminToken: string | undefined;
  if (!env.HTTP_ADMIN_TOKENS) {
    adminToken = stableLocalSecret('admin-token', () => randomBytes(24).toString('base64url'));
    env.HTTP_ADMIN_TOKENS = adminToken;
  }

  // Each function's instances get the variables s.yaml would deploy, resolved against this
  // shell with the defaults set above, and nothing else from this process.
  const http = new FcFunction({
    bundle: resolve('dist/http/index.js'),
    functionName: 'cams-flow-watch-http',
    env: functionEnvironment('http', env),
    credentials,
    timeoutSeconds: 10,
    maxInstances,
    memoryMb: memorySize('http'),
  });
  const poller = new FcFunction({
    bundle: resolve('dist/poller/index.js'),
    functionName: 'cams-flow-watch-poller',
    env: functionEnvironment('poller', env),
    credentials,
    timeoutSeconds: Math.max(5, pollIntervalSeconds - 1),
    maxInstances: 1,
    memoryMb: memorySize('poller'),
  });
  closers.unshift(
    () => http.close(),
    () => poller.close(),
  );
  // As behind a custom domain: FC's default domain would make browsers download the status page.
  const host = '127.0.0.1';
  const server = await serveFcHttp(http, { port, host, customDomain: true }).catch((error: unknown) => {
    throw portProblem(error, 'PORT', port, host);
  });
  closers.unshift(() => server.close());
  lines.unshift(
    `HTTP function ${server.url} (dist/http/index.js behind an FC HTTP trigger emulation: one request per instance, up to ${maxInstances} instances, 429 beyond)`,
  );
  lines.push(`Poller        dist/poller/index.js every ${pollIntervalSeconds}s (FC timer event)`);

  // Timer invocations are asynchronous: FC retries a failed one (a crash, a timeout, an unhandled
  // error — not a run that returned its own error report) up to maxAsyncRetryAttempts times.
  const retryAttempts = asyncRetryAttempts('poller');
  let running: Promise<void> | undefined;
  const runPoller = () => {
    if (running) {
      console.warn('[poller] tick skipped: the previous run is still going (the poller allows one instance)');
      return;
    }
    running = (async () => {
      try {
        for (let attempt = 0; attempt <= retryAttempts; attempt += 1) {
          const invocation = await poller.invoke(
            fcTimerEvent({ triggerName: 'local-timer', payload: '{"source":"npm-start"}' }),
          );
          if (invocation.ok) return;
          const retry = attempt < retryAttempts ? `; retry ${attempt + 1} of ${retryAttempts} in 1 s` : '';
          console.error(`[poller] run failed: ${invocation.error.body.errorMessage}${retry}`);
          if (retry) await delay(1000);
        }
      } catch (error) {
        console.error(`[poller] run failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(runPoller, pollIntervalSeconds * 1000);
  runPoller();

  const firstFlow = SEED_FLOWS[0]?.flowId ?? '<flowId>';
  console.log(
    ['', 'cams-flow-watch is running locally:', ...lines.map((line) => `  ${line}`), ''].join('\n'),
  );
  console.log(`Status page   ${server.url}/   (open in a browser; it asks for the API token once)`);
  console.log(
    "              served here as through a custom domain: on FC's default *.fcapp.run domain browsers download it instead (docs/deploy.md, custom domain)",
  );
  if (token) console.log(`API token     ${token}   (stored in .local/api-token)`);
  if (adminToken) console.log(`Admin token   ${adminToken}   (stored in .local/admin-token; may redeliver)`);
  const auth = token ? ` -H 'Authorization: Bearer ${token}'` : '';
  const flowPath = `/flows/${simulator ? firstFlow : '<flowId>'}`;
  console.log(`Try:          curl -s${auth} ${server.url}${flowPath}`);
  if (simulator)
    console.log(
      `              curl -s${auth} '${server.url}/flows/700000000000003?custSpaceId=${LOCAL_CUST_SPACE_ID}'`,
    );
  console.log(`              curl -s${auth} ${server.url}/overview`);
  console.log(`              curl -s${auth} '${server.url}${flowPath}/history?limit=10'`);
  console.log(`              curl -s${auth} '${server.url}/deliveries?state=dead'`);
  if (adminToken)
    console.log(
      `              curl -s -X POST -H 'Authorization: Bearer ${adminToken}' ${server.url}/events/<eventId>/redeliver`,
    );
  console.log('Status changes appear below as the poller delivers them. Ctrl-C stops everything.\n');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    console.log('\nstopping…');
    await running;
    for (const close of closers) await close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

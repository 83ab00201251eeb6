import {
  dryRunTimerEvent,
  InvokeApiError,
  InvokeUsageError,
  invoke,
  invokeOptionsFrom,
} from '../invoke/index';
import type { DeployTiming } from './deploy-timing';
import { type HealthAnswer, healthByInvoke, healthThroughUrl } from './health-request';
import { type RetryOptions, retryOn429 } from './retry';
import { httpTrigger } from './trigger-url';

export interface SmokeIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface SmokeDependencies {
  /**
   * The version the deployment must report: `<package version>+<git commit>`, as
   * scripts/build-version.mjs gives it for this checkout (`+unknown` without git: then only the
   * package version can be compared).
   */
  readonly expectedVersion: string;
  /** The timeouts and timer period s.yaml deploys (deploy-timing.ts): how long 429s may last. */
  readonly timing: DeployTiming;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
}

/**
 * A timer run of the poller holds its single slot until shortly before its deadline (it keeps
 * a thirtieth of the run, 0.5–3 s, to save state: shared/poller/run.ts) whenever flows keep
 * coming due, so the slot may be free only for a second or two before the next tick. Attempts
 * 1 s apart land in that gap; trying for a timer period plus a timeout sees at least one run end.
 */
const POLLER_RETRY_DELAY_MS = 1000;
/** The HTTP function's slots turn over within its timeout; three of them span a busy spell. */
const HTTP_RETRY_TIMEOUTS = 3;

/** The served version is the one deployed; without a revision here, only its package part can be. */
function isExpectedVersion(served: unknown, expected: string): boolean {
  if (typeof served !== 'string') return false;
  if (!expected.endsWith('+unknown')) return served === expected;
  return served.split('+')[0] === expected.split('+')[0];
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

interface Health {
  ok?: unknown;
  /** `ok`, or the variable the HTTP function's configuration error names. */
  config?: unknown;
  version?: unknown;
  node?: unknown;
}

interface DryRunReport {
  dryRun?: unknown;
  ok?: unknown;
  node?: unknown;
  version?: unknown;
  checks?: Array<{ name?: string; ok?: boolean; detail?: string; code?: string; message?: string }>;
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * `npm run smoke`: proves a deployment end to end. GET <HTTP trigger URL>/healthz (through the
 * trigger, as callers come in) must answer the version being deployed and `"config":"ok"` (else
 * it names the variable at fault, and so does this check); the poller, invoked with
 * a dry-run payload, must pass its configuration, credentials, state-store and CAMS checks.
 * Returns the exit code: 0 all passed, 1 a check failed, 2 usage or configuration problem.
 */
export async function runSmokeCli(
  env: NodeJS.ProcessEnv,
  io: SmokeIo,
  dependencies: SmokeDependencies,
): Promise<number> {
  const sleep =
    dependencies.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = dependencies.now ?? (() => new Date());
  const { timing } = dependencies;
  const retry = (check: string, windowMs: number, maxDelayMs: number): RetryOptions => ({
    windowMs,
    baseDelayMs: 1000,
    maxDelayMs,
    sleep,
    nowMs: () => now().getTime(),
    // Attempts 1, 2, 4, 8, …: a line now and then, not one a second for two minutes.
    onRetry: (attempt, delayMs, elapsedMs) => {
      if ((attempt & (attempt - 1)) !== 0) return;
      io.err(
        `${check}: FC answered 429 (attempt ${attempt}, ${seconds(elapsedMs)} of ${seconds(windowMs)}); retrying in ${delayMs} ms`,
      );
    },
  });
  const httpWindowMs = HTTP_RETRY_TIMEOUTS * timing.httpTimeoutSeconds * 1000;
  const pollerWindowMs = (timing.timerPeriodSeconds + timing.pollerTimeoutSeconds) * 1000;
  let http: ReturnType<typeof invokeOptionsFrom>;
  let poller: ReturnType<typeof invokeOptionsFrom>;
  try {
    http = invokeOptionsFrom(['http'], env, now());
    poller = invokeOptionsFrom(['poller', dryRunTimerEvent(now())], env, now());
  } catch (error) {
    if (error instanceof InvokeUsageError) {
      io.err(error.message);
      return 2;
    }
    throw error;
  }

  if (dependencies.expectedVersion.endsWith('+unknown')) {
    io.err(
      `version: no git revision in this checkout (${dependencies.expectedVersion}): only the package version is compared, so older code of the same version would pass`,
    );
  }
  let failures = 0;
  try {
    const override = env.DEPLOY_HTTP_URL?.trim().replace(/\/+$/, '');
    const trigger = override
      ? { url: override, authType: 'anonymous' }
      : await httpTrigger(http, http.functionName);
    let via: string;
    let request: () => Promise<HealthAnswer>;
    if (trigger.authType === 'anonymous') {
      via = `${trigger.url}/healthz`;
      request = () => healthThroughUrl(trigger.url);
    } else if (trigger.authType === 'function') {
      via = `InvokeFunction ${http.functionName} (trigger authType function: FC refuses unsigned requests)`;
      request = () => healthByInvoke(http);
    } else {
      throw new Error(
        `the HTTP trigger's authType is ${trigger.authType.replace(/[^A-Za-z0-9_-]/g, '?').slice(0, 32)}, which s.yaml cannot set up (jwt needs an authConfig with keys s.yaml does not carry) — set HTTP_TRIGGER_AUTH_TYPE to anonymous or function and deploy again`,
      );
    }
    const response = await retryOn429(
      request,
      (outcome) => outcome.value?.status === 429,
      retry('healthz', httpWindowMs, 8000),
    );
    const health = parseJson<Health>(response.body);
    if (typeof health?.config === 'string' && health.config !== 'ok') {
      failures += 1;
      io.err(
        `healthz: the HTTP function's configuration is invalid: ${health.config.replace(/[^A-Za-z0-9_]/g, '?').slice(0, 64)} — fix that variable (the function's log says why) and deploy again`,
      );
    } else if (response.status === 429) {
      failures += 1;
      io.err(
        `healthz: the HTTP function is at its concurrency cap (HTTP_MAX_INSTANCES): FC answered 429 for ${seconds(httpWindowMs)} (${HTTP_RETRY_TIMEOUTS} × its ${timing.httpTimeoutSeconds} s timeout, s.yaml) — run the smoke check again when the load drops, or raise HTTP_MAX_INSTANCES`,
      );
    } else if (response.status === 401 || response.status === 403) {
      failures += 1;
      io.err(
        `healthz: ${via} answered HTTP ${response.status}: ${override ? 'DEPLOY_HTTP_URL' : 'the trigger'} refused an unsigned request (/healthz itself needs no token) — the smoke check signs nothing it sends there; ${override ? 'let GET /healthz through the custom domain unauthenticated, or unset DEPLOY_HTTP_URL (with HTTP_TRIGGER_AUTH_TYPE=function the check then goes through InvokeFunction)' : 'check the trigger authType in the FC console matches HTTP_TRIGGER_AUTH_TYPE and deploy again'}`,
      );
    } else if (response.status !== 200 || health?.ok !== true) {
      failures += 1;
      io.err(`healthz: ${via} answered HTTP ${response.status}`);
    } else if (!isExpectedVersion(health.version, dependencies.expectedVersion)) {
      failures += 1;
      io.err(
        `healthz: version ${String(health.version)} is serving, expected ${dependencies.expectedVersion}`,
      );
    } else {
      io.out(`healthz: ${via} → 200, version ${health.version}, node ${String(health.node)}`);
    }
  } catch (error) {
    failures += 1;
    io.err(`healthz: ${error instanceof Error ? error.message : String(error)}`);
  }

  try {
    const result = await retryOn429(
      () => invoke(poller),
      (outcome) => outcome.error instanceof InvokeApiError && outcome.error.httpStatus === 429,
      retry('poller dry run', pollerWindowMs, POLLER_RETRY_DELAY_MS),
    );
    const report = parseJson<DryRunReport>(result.body);
    if (result.errorType || report?.dryRun !== true) {
      failures += 1;
      io.err(
        `poller dry run: ${result.errorType ?? 'no dry-run report'} (request id ${result.requestId ?? 'none'})`,
      );
      io.err(result.body.slice(0, 2000));
    } else {
      for (const check of report.checks ?? []) {
        const line = `poller dry run: ${check.name}: ${check.ok ? 'ok' : 'FAILED'}${check.detail ? ` (${check.detail})` : ''}${check.code ? ` ${check.code}: ${check.message ?? ''}` : ''}`;
        if (check.ok) io.out(line);
        else io.err(line);
      }
      if (report.ok !== true) failures += 1;
      else io.out(`poller dry run: version ${String(report.version)}, node ${String(report.node)}`);
      if (report.ok === true && !isExpectedVersion(report.version, dependencies.expectedVersion)) {
        failures += 1;
        io.err(
          `poller dry run: version ${String(report.version)} is deployed, expected ${dependencies.expectedVersion}`,
        );
      }
    }
  } catch (error) {
    failures += 1;
    if (error instanceof InvokeApiError && error.httpStatus === 429) {
      io.err(
        `poller dry run: poller busy with a timer run: FC answered 429 for ${seconds(pollerWindowMs)} (timer period ${timing.timerPeriodSeconds} s + timeout ${timing.pollerTimeoutSeconds} s, s.yaml) — runs that last to their deadline tick after tick leave no gap; run the smoke check again, and see the poller's log for runs ending at their deadline`,
      );
    }
    io.err(`poller dry run: ${error instanceof Error ? error.message : String(error)}`);
  }
  return failures === 0 ? 0 : 1;
}

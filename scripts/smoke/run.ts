import {
  dryRunTimerEvent,
  InvokeApiError,
  InvokeUsageError,
  invoke,
  invokeOptionsFrom,
} from '../invoke/index';
import { retryOn429 } from './retry';
import { httpTriggerUrl } from './trigger-url';

export interface SmokeIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface SmokeDependencies {
  /** The package version the deployment must report (package.json's). */
  readonly expectedVersion: string;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
  /** Attempts per check while FC answers 429; default 6 (waits 1+2+4+8+16 s at most). */
  readonly attempts?: number;
  readonly baseDelayMs?: number;
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
  const retry = {
    attempts: dependencies.attempts ?? 6,
    baseDelayMs: dependencies.baseDelayMs ?? 1000,
    sleep,
    onRetry: (attempt: number, delayMs: number) =>
      io.err(`FC answered 429 (attempt ${attempt}); retrying in ${delayMs} ms`),
  };
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

  let failures = 0;
  try {
    const url =
      env.DEPLOY_HTTP_URL?.trim().replace(/\/+$/, '') || (await httpTriggerUrl(http, http.functionName));
    const response = await retryOn429(
      () => fetch(`${url}/healthz`, { signal: AbortSignal.timeout(30_000) }),
      (outcome) => outcome.value?.status === 429,
      retry,
    );
    const health = parseJson<Health>(await response.text());
    if (typeof health?.config === 'string' && health.config !== 'ok') {
      failures += 1;
      io.err(
        `healthz: the HTTP function's configuration is invalid: ${health.config.replace(/[^A-Za-z0-9_]/g, '?').slice(0, 64)} — fix that variable (the function's log says why) and deploy again`,
      );
    } else if (response.status !== 200 || health?.ok !== true) {
      failures += 1;
      io.err(`healthz: ${url}/healthz answered HTTP ${response.status}`);
    } else if (health.version !== dependencies.expectedVersion) {
      failures += 1;
      io.err(
        `healthz: version ${String(health.version)} is serving, expected ${dependencies.expectedVersion}`,
      );
    } else {
      io.out(`healthz: ${url}/healthz → 200, version ${health.version}, node ${String(health.node)}`);
    }
  } catch (error) {
    failures += 1;
    io.err(`healthz: ${error instanceof Error ? error.message : String(error)}`);
  }

  try {
    const result = await retryOn429(
      () => invoke(poller),
      (outcome) => outcome.error instanceof InvokeApiError && outcome.error.httpStatus === 429,
      retry,
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
      if (report.ok === true && report.version !== dependencies.expectedVersion) {
        failures += 1;
        io.err(
          `poller dry run: version ${String(report.version)} is deployed, expected ${dependencies.expectedVersion}`,
        );
      }
    }
  } catch (error) {
    failures += 1;
    io.err(`poller dry run: ${error instanceof Error ? error.message : String(error)}`);
  }
  return failures === 0 ? 0 : 1;
}

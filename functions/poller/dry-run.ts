import type { AccountBudget } from '../../shared/budget';
import type { CamsClient, Credentials } from '../../shared/cams';
import { resolveCredentials } from '../../shared/cams';
import type { Clock } from '../../shared/clock';
import type { PollerConfig } from '../../shared/poller';
import { createStateStore, type StateStore, unavailableStore } from '../../shared/state';
import type { WebhookEndpoint } from '../../shared/webhook';

/** Set `{"dryRun":true}` as the invocation's payload (a timer event's `payload`, or the event itself). */
export function isDryRunRequest(eventPayload: unknown, rawEvent: unknown): boolean {
  const asRecord = (value: unknown) =>
    typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  if (asRecord(eventPayload)?.dryRun === true) return true;
  if (Buffer.isBuffer(rawEvent) || typeof rawEvent === 'string') {
    try {
      return asRecord(JSON.parse(rawEvent.toString()))?.dryRun === true;
    } catch {
      return false;
    }
  }
  return asRecord(rawEvent)?.dryRun === true;
}

export type DryRunCheckName = 'configuration' | 'credentials' | 'stateStore' | 'cams';

export interface DryRunCheck {
  readonly name: DryRunCheckName;
  readonly ok: boolean;
  /** What was checked, or why the check was skipped; never a secret. */
  readonly detail?: string;
  readonly code?: string;
  readonly message?: string;
}

export interface DryRunReport {
  readonly dryRun: true;
  readonly ok: boolean;
  readonly version: string;
  readonly node: string;
  readonly checks: readonly DryRunCheck[];
}

export interface DryRunSetup {
  readonly config: PollerConfig;
  readonly endpoints: readonly WebhookEndpoint[];
  readonly cams: CamsClient;
  /** The account-wide budget: even a dry run's one CAMS call takes its slot. */
  readonly budget?: AccountBudget | undefined;
}

export interface DryRunOptions {
  readonly setUp: () => DryRunSetup;
  readonly contextCredentials: unknown;
  readonly env: NodeJS.ProcessEnv;
  readonly clock: Clock;
  readonly deadlineMs: number;
  readonly version: string;
}

function failed(name: DryRunCheckName, error: unknown): DryRunCheck {
  const code =
    typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'Error';
  return { name, ok: false, code, message: error instanceof Error ? error.message : String(error) };
}

/**
 * Proves a deployment without touching what a run changes: configuration parses, the role's
 * credentials arrive, the state store answers a read (creating its table if missing, as a first run
 * would), and CAMS answers one call with those credentials. Nothing is written or delivered.
 * Each check runs only when the ones it needs passed.
 */
export async function dryRun(options: DryRunOptions): Promise<DryRunReport> {
  const checks: DryRunCheck[] = [];
  const report = (): DryRunReport => ({
    dryRun: true,
    ok: checks.every((check) => check.ok),
    version: options.version,
    node: process.version,
    checks,
  });

  let setup: DryRunSetup;
  try {
    setup = options.setUp();
    const { config, endpoints } = setup;
    checks.push({
      name: 'configuration',
      ok: true,
      detail: `${config.watchFlows.length} flows and ${config.watchCustSpaces.length} cust spaces watched, ${endpoints.length} webhook endpoints`,
    });
  } catch (error) {
    checks.push(failed('configuration', error));
    return report();
  }

  let credentials: Credentials;
  try {
    credentials = resolveCredentials(options.contextCredentials, options.env);
    checks.push({ name: 'credentials', ok: true, detail: 'from the invocation context or the environment' });
  } catch (error) {
    checks.push(failed('credentials', error));
    return report();
  }

  let store: StateStore | undefined;
  let storeFailure: unknown;
  try {
    store = await createStateStore(setup.config.stateUrl, {
      credentials,
      env: options.env,
      clock: options.clock,
    });
    await store.get('dry-run/probe');
    checks.push({ name: 'stateStore', ok: true, detail: `read from ${setup.config.stateUrl}` });
  } catch (error) {
    storeFailure = error;
    checks.push(failed('stateStore', error));
  }

  const [flow] = setup.config.watchFlows;
  const [custSpaceId] = setup.config.watchCustSpaces;
  // Without a store the budget falls back to its conservative local limit, as a run would: bound
  // to a store that always fails, it takes that path rather than being left out.
  const budget = setup.budget?.bind(store ?? unavailableStore(storeFailure));
  const callOptions = { credentials, deadlineMs: options.deadlineMs, ...(budget ? { budget } : {}) };
  try {
    if (flow) {
      await setup.cams.getFlow(flow, callOptions);
      checks.push({ name: 'cams', ok: true, detail: `GetFlow ${flow.flowId}` });
    } else if (custSpaceId) {
      await setup.cams.listFlows({ custSpaceId, pageIndex: 1, pageSize: 1 }, callOptions);
      checks.push({ name: 'cams', ok: true, detail: `ListFlow ${custSpaceId}` });
    } else {
      checks.push({ name: 'cams', ok: true, detail: 'skipped: WATCH_FLOWS and WATCH_CUST_SPACES are empty' });
    }
  } catch (error) {
    checks.push(failed('cams', error));
  } finally {
    // As a run does: FC freezes the instance once it returns, so the call's counts land first.
    await setup.budget?.settled();
    await store?.close().catch(() => undefined);
  }
  return report();
}

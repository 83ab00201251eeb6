import { parseHttpConfig } from '../../functions/http/config';
import { parseCamsEnv } from '../../shared/cams';
import { ConfigError } from '../../shared/config-error';
import { parsePollerConfig } from '../../shared/poller/config';
import { parseWebhookEndpoints } from '../../shared/webhook/config';

/**
 * What the deploy workflow checks before `s deploy`, with the fix in each message: settings `s`
 * renders happily but FC refuses, or that deploy a service nobody can use (or anybody can).
 */
export type DeployEnv = Readonly<Record<string, string | undefined>>;

const VPC_VARIABLES = ['DEPLOY_VPC_ID', 'DEPLOY_VSWITCH_IDS', 'DEPLOY_SECURITY_GROUP_ID'] as const;
/** FC's vSwitch ids: `vsw-` and lower-case letters and digits. */
const VSWITCH_ID = /^vsw-[0-9a-z]+$/;
/**
 * The HTTP trigger authTypes s.yaml can deploy. `jwt` is not one: FC then needs an authConfig
 * (jwks keys, tokenLookup) that s.yaml does not carry, so the trigger would get jwt with no keys.
 */
export const TRIGGER_AUTH_TYPES = ['anonymous', 'function'] as const;

const trimmedValue = (env: DeployEnv, name: string) => env[name]?.trim() ?? '';

/** The ids s.vpc.yaml renders from DEPLOY_VSWITCH_IDS: split at commas, trimmed, empties dropped. */
export function vSwitchIdsOf(value: string): string[] {
  return value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
}

function vpcProblems(env: DeployEnv): string[] {
  const set = VPC_VARIABLES.filter((name) => trimmedValue(env, name) !== '');
  if (set.length === 0) return [];
  if (set.length !== VPC_VARIABLES.length) {
    return [`set all of ${VPC_VARIABLES.join(', ')} or none (see docs/deploy.md)`];
  }
  const ids = vSwitchIdsOf(trimmedValue(env, 'DEPLOY_VSWITCH_IDS'));
  const bad = ids.filter((id) => !VSWITCH_ID.test(id));
  if (bad.length > 0) {
    return [
      `DEPLOY_VSWITCH_IDS: ${bad.map((id) => JSON.stringify(id.slice(0, 40))).join(', ')} is not a vSwitch id — give comma-separated ids such as vsw-t4n1a,vsw-t4n2b`,
    ];
  }
  if (ids.length === 0)
    return ['DEPLOY_VSWITCH_IDS holds no vSwitch id — give comma-separated ids such as vsw-t4n1a,vsw-t4n2b'];
  if (new Set(ids).size !== ids.length) return ['DEPLOY_VSWITCH_IDS names a vSwitch twice — list each once'];
  return [];
}

function authProblems(env: DeployEnv): string[] {
  const triggerAuth = trimmedValue(env, 'HTTP_TRIGGER_AUTH_TYPE') || 'anonymous';
  const functionAuth = trimmedValue(env, 'HTTP_AUTH') || 'token';
  if (triggerAuth === 'jwt') {
    return [
      'HTTP_TRIGGER_AUTH_TYPE=jwt is not supported: FC needs the trigger’s authConfig (jwks keys, tokenLookup), which s.yaml does not carry, so the trigger would check tokens against no keys — use function (callers sign with an AccessKey) or anonymous with HTTP_AUTH=token',
    ];
  }
  if (!(TRIGGER_AUTH_TYPES as readonly string[]).includes(triggerAuth)) {
    return [`HTTP_TRIGGER_AUTH_TYPE must be ${TRIGGER_AUTH_TYPES.join(' or ')}`];
  }
  if (triggerAuth === 'function' && functionAuth !== 'none') {
    return [
      `HTTP_TRIGGER_AUTH_TYPE=function with HTTP_AUTH=${functionAuth}: callers' Authorization header carries FC's signature, so no bearer token ever reaches the function and every route but /healthz would answer 401 — set HTTP_AUTH=none (the trigger authenticates), or HTTP_TRIGGER_AUTH_TYPE=anonymous`,
    ];
  }
  if (triggerAuth === 'anonymous' && functionAuth === 'none') {
    return [
      'HTTP_AUTH=none behind an anonymous trigger opens the API to anyone — set HTTP_TRIGGER_AUTH_TYPE=function, or HTTP_AUTH=token with HTTP_API_TOKENS',
    ];
  }
  return [];
}

/**
 * Both functions' own configuration parsers, run on the values s.yaml hands them (its defaults are
 * theirs): a value a function refuses at cold start blocks the deploy here instead, while the
 * version already deployed keeps running. This covers CAMS_ENDPOINT and CAMS_QPS, CAMS_ACCOUNT_QPS
 * with POLL_QPS, the webhook settings (WEBHOOK_URL, WEBHOOK_FORMAT, WEBHOOK_SECRET) and every other
 * variable they read. The
 * messages name the variable and never echo its value (tokens and secrets reach this check too).
 */
function functionConfigProblems(env: DeployEnv): string[] {
  // FC sets FC_REGION in the function (s.yaml's region); never in the deploying shell (see s.yaml).
  const functionEnv = { ...env, FC_REGION: trimmedValue(env, 'DEPLOY_REGION') || 'ap-southeast-1' };
  const problems = new Set<string>();
  for (const parse of [parseHttpConfig, parsePollerConfig, parseWebhookEndpoints, parseCamsEnv]) {
    try {
      parse(functionEnv);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.add(error.message);
    }
  }
  return [...problems];
}

/** Every problem found, each saying what to set; empty when `s deploy` may go ahead. */
export function deployConfigProblems(env: DeployEnv): string[] {
  const problems = ['DEPLOY_ROLE_ARN', 'STATE_URL']
    .filter((name) => trimmedValue(env, name) === '')
    .map((name) => `${name} is not set (see docs/deploy.md)`);
  const stateUrl = trimmedValue(env, 'STATE_URL');
  // file: parses (it is how local runs keep state), but in FC it is the read-only code folder or
  // one instance's own /tmp: no shared budget, records or cache between the two functions.
  if (stateUrl !== '' && !stateUrl.startsWith('tablestore://')) {
    problems.push(
      'STATE_URL must be tablestore://<instance>/<table> in Function Compute: file: is for local runs, where each FC instance would keep its own state or none (see docs/deploy.md)',
    );
  }
  const maxInstances = trimmedValue(env, 'HTTP_MAX_INSTANCES') || '10';
  if (!/^\d+$/.test(maxInstances) || Number(maxInstances) < 10) {
    problems.push('HTTP_MAX_INSTANCES must be a whole number of at least 10 (one request per instance)');
  }
  return [...problems, ...functionConfigProblems(env), ...vpcProblems(env), ...authProblems(env)];
}

/** s.vpc.yaml when the VPC variables are set, else s.yaml. */
export function templateFor(env: DeployEnv): 's.yaml' | 's.vpc.yaml' {
  return trimmedValue(env, 'DEPLOY_VPC_ID') ? 's.vpc.yaml' : 's.yaml';
}

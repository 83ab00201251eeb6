/**
 * s.yaml read the way Serverless Devs (`s`) resolves it, so local runs give a function exactly
 * the variables a deploy would: `npm start` through the FC emulator, and the deploy tests.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';

export type Env = Record<string, string | undefined>;
export type Resource = { component: string; props: Record<string, unknown> };

const ENV_CALL = /\$\{env\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\}/g;
const VARS_REF = /\$\{vars\.([\w.]+)\}/g;
const S_YAML = resolve(__dirname, '../s.yaml');

/** Resolves `${env('X')}`, `${env('X', 'default')}` and `${vars.a.b}` the way `s` does. */
function substitute(value: unknown, env: Env, vars: Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((item) => substitute(item, env, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, env, vars)]));
  }
  if (typeof value !== 'string') return value;
  const withEnv = value.replace(ENV_CALL, (_, name: string, fallback: string | undefined) => {
    // As `s` does: an empty variable counts as unset, so the default applies.
    const resolved = env[name] || fallback;
    if (resolved === undefined) throw new Error(`env('${name}') not found`);
    return resolved;
  });
  return withEnv.replace(VARS_REF, (_, path: string) => {
    const resolved = path
      .split('.')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], vars);
    if (typeof resolved !== 'string')
      throw new Error(`s.yaml refers to undefined or non-string vars.${path}`);
    return resolved;
  });
}

function readSYaml(path: string): Record<string, unknown> {
  return parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export function loadSYaml(
  env: Env,
  path = S_YAML,
): { raw: Record<string, unknown>; resources: Record<string, Resource> } {
  const raw = readSYaml(path);
  const vars = substitute(raw.vars ?? {}, env, {}) as Record<string, unknown>;
  const resources = substitute(raw.resources, env, vars) as Record<string, Resource>;
  return { raw, resources };
}

function propsOf(resource: string, path: string): Record<string, unknown> | undefined {
  const raw = readSYaml(path);
  return (raw.resources as Record<string, Resource> | undefined)?.[resource]?.props;
}

/**
 * The `environmentVariables` s.yaml gives `resource`, resolved against `env` (the deploying
 * shell's): what FC sets in that function's instances. Only that block is resolved, so deploy-only
 * variables such as FC_ROLE_ARN need not be set locally.
 */
export function functionEnvironment(resource: string, env: Env, path = S_YAML): Record<string, string> {
  const props = propsOf(resource, path);
  if (!props) throw new Error(`s.yaml has no resource named ${resource}`);
  const resolved = substitute(props.environmentVariables ?? {}, env, {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(resolved).map(([name, value]) => [name, String(value)]));
}

/** The memory size (MB) s.yaml gives `resource`, or undefined when it sets none. */
export function memorySize(resource: string, path = S_YAML): number | undefined {
  const size = propsOf(resource, path)?.memorySize;
  return typeof size === 'number' && Number.isInteger(size) && size > 0 ? size : undefined;
}

/**
 * How often FC retries a failed asynchronous invocation of `resource` (timer triggers invoke
 * asynchronously): `asyncInvokeConfig.maxAsyncRetryAttempts`, FC's default 3 when unset.
 */
export function asyncRetryAttempts(resource: string, path = S_YAML): number {
  const config = propsOf(resource, path)?.asyncInvokeConfig as
    | { maxAsyncRetryAttempts?: unknown }
    | undefined;
  const attempts = config?.maxAsyncRetryAttempts;
  return typeof attempts === 'number' && Number.isInteger(attempts) && attempts >= 0 ? attempts : 3;
}

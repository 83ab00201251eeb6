import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Env, loadSYaml } from '../../local/s-yaml';

// The schema is a copy of ../shared/ref/fc3-props.schema.json (see README.md here): a clean CI
// checkout has no ../shared. It declares draft-07, which Ajv's default export speaks.
const schemaPath = resolve(__dirname, 'fc3-props.schema.json');
const repoRoot = resolve(__dirname, '../..');
const requireBundle = createRequire(__filename);

const deployEnv: Env = { FC_ROLE_ARN: 'acs:ram::1234567890123456:role/cams-flow-watch' };
const validateProps = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(schemaPath, 'utf8')),
);

describe('s.yaml', () => {
  const { raw, resources } = loadSYaml(deployEnv);
  const entries = Object.entries(resources);

  it('is a Serverless Devs 3 project with the http and poller resources', () => {
    expect(raw.edition).toBe('3.0.0');
    expect(Object.keys(resources).sort()).toEqual(['http', 'poller']);
  });

  it.each(entries)('%s props satisfy the fc3 component schema', (_, resource) => {
    expect(resource.component).toBe('fc3');
    const isValid = validateProps(resource.props);
    expect(validateProps.errors ?? []).toEqual([]);
    expect(isValid).toBe(true);
  });

  it.each(entries)(
    '%s runs on nodejs20 with the role, auto logs and every config variable',
    (_, resource) => {
      const { props } = resource;
      expect(props).toMatchObject({
        runtime: 'nodejs20',
        handler: 'index.handler',
        role: deployEnv.FC_ROLE_ARN,
        logConfig: 'auto',
        region: 'ap-southeast-1',
      });
      expect(Object.keys(props.environmentVariables as object)).toEqual(
        expect.arrayContaining([
          'CAMS_ENDPOINT',
          'CAMS_QPS',
          'CAMS_CUST_SPACE_ID',
          'HTTP_API_TOKENS',
          'HTTP_AUTH',
          'HTTP_CACHE_TTL_SECONDS',
          'WATCH_FLOWS',
          'WATCH_CUST_SPACES',
          'STATE_URL',
          'TABLESTORE_ENDPOINT',
          'POLL_QPS',
          'POLL_INTERVALS',
          'DISCOVERY_INTERVAL_SECONDS',
          'WEBHOOK_URL',
          'WEBHOOK_SECRET',
          'WEBHOOK_FORMAT',
          'WEBHOOK_MAX_AGE_HOURS',
        ]),
      );
    },
  );

  it('takes every configuration value from the deploying environment, with documented defaults', () => {
    const { resources: fromEnv } = loadSYaml({ ...deployEnv, FC_REGION: 'cn-hangzhou', CAMS_QPS: '3' });
    expect(fromEnv.poller?.props).toMatchObject({
      region: 'cn-hangzhou',
      environmentVariables: { CAMS_QPS: '3' },
    });
    expect(resources.poller?.props.environmentVariables).toMatchObject({
      CAMS_ENDPOINT: 'https://cams.ap-southeast-1.aliyuncs.com',
      CAMS_QPS: '1',
      POLL_QPS: '4',
      WEBHOOK_FORMAT: 'standard',
      WEBHOOK_MAX_AGE_HOURS: '72',
    });
  });

  it("splits the account's 5 GetFlow calls/s: one HTTP instance at CAMS_QPS plus one poller run at POLL_QPS", () => {
    const http = resources.http?.props as Record<string, unknown> & {
      environmentVariables: Record<string, string>;
    };
    const poller = resources.poller?.props as Record<string, unknown> & {
      environmentVariables: Record<string, string>;
    };
    expect(http.concurrencyConfig).toEqual({ reservedConcurrency: 1 });
    expect(poller.concurrencyConfig).toEqual({ reservedConcurrency: 1 });
    expect(Number(http.environmentVariables.CAMS_QPS) + Number(poller.environmentVariables.POLL_QPS)).toBe(5);
  });

  it('gets every variable s.yaml reads from the CI deploy workflow', () => {
    const sYaml = readFileSync(resolve(repoRoot, 's.yaml'), 'utf8');
    const workflow = parse(readFileSync(resolve(repoRoot, '.github/workflows/deploy.yml'), 'utf8')) as {
      jobs: Record<string, { env?: Record<string, string> }>;
    };
    const passed = new Set(Object.values(workflow.jobs).flatMap((job) => Object.keys(job.env ?? {})));
    const read = [...sYaml.matchAll(/\$\{env\('([A-Z_]+)'/g)].map((match) => match[1]);
    // HTTP_TRIGGER_AUTH_TYPE above all: HTTP_AUTH=none behind an anonymous trigger would open the API.
    expect(read).toContain('HTTP_TRIGGER_AUTH_TYPE');
    expect(read.filter((name) => !passed.has(name ?? ''))).toEqual([]);
  });

  it('bakes no secret into the file', () => {
    const text = readFileSync(resolve(repoRoot, 's.yaml'), 'utf8');
    for (const name of ['HTTP_API_TOKENS', 'WEBHOOK_SECRET']) {
      expect(text).toContain(`${name}: \${env('${name}', '')}`);
    }
    expect(() => loadSYaml({})).toThrow("env('FC_ROLE_ARN') not found");
    expect(() => loadSYaml({ FC_ROLE_ARN: '' })).toThrow("env('FC_ROLE_ARN') not found");
  });

  it('triggers the http function over GET/HEAD and the poller every minute with retries fit for idempotent runs', () => {
    expect(resources.http?.props.triggers).toEqual([
      {
        triggerName: 'http',
        triggerType: 'http',
        triggerConfig: { authType: 'anonymous', methods: ['GET', 'HEAD'] },
      },
    ]);
    const poller = resources.poller?.props;
    expect(poller?.triggers).toEqual([
      expect.objectContaining({
        triggerType: 'timer',
        triggerConfig: expect.objectContaining({ cronExpression: '@every 1m', enable: true }),
      }),
    ]);
    expect(poller?.asyncInvokeConfig).toEqual({ maxAsyncRetryAttempts: 2, maxAsyncEventAgeInSeconds: 300 });
  });

  // The bundles come from the vitest global setup (scripts/build.mjs).
  it.each(entries)('%s code + handler resolve to an exported function in the built output', (_, resource) => {
    const { code, handler } = resource.props as { code: string; handler: string };
    const [file, exportName] = handler.split('.') as [string, string];
    const bundle = resolve(repoRoot, code, `${file}.js`);
    expect(existsSync(bundle), `${bundle} is built`).toBe(true);
    const loaded = requireBundle(bundle) as Record<string, unknown>;
    expect(typeof loaded[exportName]).toBe('function');
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROUTES } from '../../functions/http/routes';
import { asyncRetryAttempts, memorySize } from '../../local/s-yaml';
import { deployConfigProblems, TRIGGER_AUTH_TYPES } from '../../scripts/deploy-check/problems';
import { envReadsOf, RUNTIME_PROVIDED } from './env-reads';
import { fcCronProblem } from './fc-cron';
import { type Resource, renderSYaml, repoRoot } from './render-s-yaml';

// The schema is a copy of ../shared/ref/fc3-props.schema.json (see README.md here): a clean CI
// checkout has no ../shared. It declares draft-07, which Ajv's default export speaks.
const schemaPath = resolve(__dirname, 'fc3-props.schema.json');
const requireBundle = createRequire(__filename);
const TEMPLATES = ['s.yaml', 's.vpc.yaml'] as const;
/** FC's limit on one function's environment variables, names and values together. */
const FC_ENV_LIMIT_BYTES = 4096;
const BUILT_IN_RUNTIME = /^(nodejs|python|java|php|dotnetcore|go)\d/;

const deployEnv = {
  DEPLOY_ROLE_ARN: 'acs:ram::1234567890123456:role/cams-flow-watch',
  STATE_URL: 'tablestore://cams-flow-watch/flow_state',
};
const vpcEnv = {
  ...deployEnv,
  DEPLOY_VPC_ID: 'vpc-t4n1',
  DEPLOY_VSWITCH_IDS: 'vsw-t4na,vsw-t4nb',
  DEPLOY_SECURITY_GROUP_ID: 'sg-t4n1',
  TABLESTORE_ENDPOINT: 'https://cams-flow-watch.ap-southeast-1.vpc.tablestore.aliyuncs.com',
};
const validateProps = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(readFileSync(schemaPath, 'utf8')),
);
const text = (file: string) => readFileSync(resolve(repoRoot, file), 'utf8');
interface WorkflowStep {
  name?: string;
  run?: string;
  uses?: string;
  env?: Record<string, string>;
}
const workflow = parse(text('.github/workflows/deploy.yml')) as {
  jobs: Record<string, { env?: Record<string, string>; steps?: WorkflowStep[] }>;
};
const workflowJobs = Object.values(workflow.jobs);
const workflowEnvNames = workflowJobs.flatMap((job) => [
  ...Object.keys(job.env ?? {}),
  ...(job.steps ?? []).flatMap((step) => Object.keys(step.env ?? {})),
]);
/** What `s deploy` sees: its job's env and its own step's. */
const deployStepEnvNames = workflowJobs.flatMap((job) =>
  (job.steps ?? [])
    .filter((step) => /\bs deploy\b/.test(step.run ?? ''))
    .flatMap((step) => [...Object.keys(job.env ?? {}), ...Object.keys(step.env ?? {})]),
);
const usesSecret = (value: unknown) => /\bsecrets\./.test(String(value));
const envOf = (resource: Resource | undefined) => resource?.props.environmentVariables ?? {};
const envBytes = (variables: Record<string, string>) =>
  Object.entries(variables).reduce((total, [name, value]) => total + Buffer.byteLength(name + value), 0);

describe('s.yaml, as Serverless Devs renders it', () => {
  const project = renderSYaml(deployEnv);
  const entries = Object.entries(project.resources);

  it('is a Serverless Devs 3 project with the http and poller resources', () => {
    expect(project.edition).toBe('3.0.0');
    expect(Object.keys(project.resources).sort()).toEqual(['http', 'poller']);
  });

  it('pins one fc3 release for every resource', () => {
    const components = new Set(entries.map(([, resource]) => resource.component));
    expect(components.size).toBe(1);
    expect([...components][0]).toMatch(/^fc3@\d+\.\d+\.\d+$/);
  });

  it.each(entries)('%s props satisfy the fc3 component schema', (_, resource) => {
    const isValid = validateProps(resource.props);
    expect(validateProps.errors ?? []).toEqual([]);
    expect(isValid).toBe(true);
  });

  it.each(entries)('%s runs on nodejs20 with the role and auto logs', (_, resource) => {
    expect(resource.props).toMatchObject({
      runtime: 'nodejs20',
      handler: 'index.handler',
      role: deployEnv.DEPLOY_ROLE_ARN,
      logConfig: 'auto',
      region: 'ap-southeast-1',
    });
  });

  describe('deploy variables', () => {
    // fc3 uploads code to the region's internal OSS endpoint when FC_REGION is set in the deploying
    // shell (it assumes it runs inside FC): unreachable from a CI runner.
    it.each(TEMPLATES)('%s reads no FC_ variable', (file) => {
      const read = [...text(file).matchAll(/\$\{env\(\s*'([^']+)'/g)].map((match) => match[1]);
      expect(read.length).toBeGreaterThan(0);
      expect(read.filter((name) => name?.startsWith('FC_'))).toEqual([]);
    });

    it('the deploy workflow sets no FC_ variable', () => {
      expect(workflowEnvNames.length).toBeGreaterThan(0);
      expect(workflowEnvNames.filter((name) => name.startsWith('FC_'))).toEqual([]);
    });

    it.each(TEMPLATES)('%s gets every variable it reads from the CI deploy workflow', (file) => {
      const read = [...text(file).matchAll(/\$\{env\('([A-Z_]+)'/g)].map((match) => match[1]);
      // HTTP_TRIGGER_AUTH_TYPE above all: HTTP_AUTH=none behind an anonymous trigger would open the API.
      if (file === 's.yaml') expect(read).toContain('HTTP_TRIGGER_AUTH_TYPE');
      expect(deployStepEnvNames.length).toBeGreaterThan(0);
      expect(read.filter((name) => !deployStepEnvNames.includes(name ?? ''))).toEqual([]);
    });

    // Job-level env reaches every step: npm ci's install scripts (any dependency's postinstall),
    // the tests and the build would all see the deployer's keys and the functions' secrets.
    it('the deploy workflow gives secrets only to the steps that use them', () => {
      const steps = workflowJobs.flatMap((job) => job.steps ?? []);
      expect(steps.some((step) => Object.values(step.env ?? {}).some(usesSecret))).toBe(true);
      for (const job of workflowJobs) {
        expect(Object.entries(job.env ?? {}).filter(([, value]) => usesSecret(value))).toEqual([]);
      }
      const untrusted = steps.filter(
        (step) => step.uses || /\bnpm (ci|install|test|run build)\b|\.ci\/run/.test(step.run ?? ''),
      );
      expect(untrusted.map((step) => step.run ?? step.uses)).toEqual(
        expect.arrayContaining([expect.stringMatching(/\.ci\/run$/), 'npm run build']),
      );
      for (const step of untrusted) {
        expect({
          step: step.run ?? step.uses,
          secrets: Object.values(step.env ?? {}).filter(usesSecret),
        }).toEqual({
          step: step.run ?? step.uses,
          secrets: [],
        });
      }
      // Elsewhere a secret's value goes only to s config add, s deploy and the smoke check, and the
      // functions' own secrets to the configuration check (their parsers read them); other steps
      // may learn whether one is set.
      const functionSecrets =
        /^\$\{\{\s*secrets\.(HTTP_API_TOKENS|HTTP_ADMIN_TOKENS|WEBHOOK_URL|WEBHOOK_SECRET)\s*\}\}$/;
      for (const step of steps) {
        if (/\bs (config add|deploy)\b|npm run smoke/.test(step.run ?? '')) continue;
        const isCheck = (step.run ?? '').includes('scripts/check-deploy.ts');
        const values = Object.values(step.env ?? {})
          .filter(usesSecret)
          .filter((value) => !(isCheck && functionSecrets.test(value)));
        expect(values.filter((value) => !/^\$\{\{\s*secrets\.[A-Z_]+\s*!=\s*''\s*\}\}$/.test(value))).toEqual(
          [],
        );
      }
    });

    // The Node 20.10 built-bundle suite exists to stop a bundle that breaks only there; a gate of
    // npm test alone would deploy it.
    it('the deploy workflow gates s deploy on .ci/run, the Node 20.10 bundle suite included', () => {
      const steps = workflowJobs.flatMap((job) => job.steps ?? []);
      const runs = steps.map((step) => step.run ?? '');
      const gate = runs.findIndex((run) => /(^|\s)\.ci\/run$/.test(run));
      const deploy = runs.findIndex((run) => /\bs deploy\b/.test(run));
      expect(gate).toBeGreaterThanOrEqual(0);
      expect(deploy).toBeGreaterThan(gate);
      expect(text('.ci/run')).toContain('test/bundles/bundles.node-test.ts');
      expect(text('.ci/run')).toMatch(/^npm test$/m);
    });

    it('takes configuration from the deploying environment, with documented defaults', () => {
      const fromEnv = renderSYaml({ ...deployEnv, DEPLOY_REGION: 'cn-hangzhou', CAMS_QPS: '3' });
      expect(fromEnv.resources.poller?.props.region).toBe('cn-hangzhou');
      expect(envOf(fromEnv.resources.http).CAMS_QPS).toBe('3');
      expect(envOf(project.resources.http)).toMatchObject({
        CAMS_ENDPOINT: 'https://cams.ap-southeast-1.aliyuncs.com',
        CAMS_QPS: '5',
        HTTP_AUTH: 'token',
      });
      expect(envOf(project.resources.poller)).toMatchObject({
        POLL_QPS: '4',
        WEBHOOK_FORMAT: 'standard',
        WEBHOOK_MAX_AGE_HOURS: '72',
        STATE_URL: deployEnv.STATE_URL,
      });
    });

    it('bakes no secret into the file and refuses to render without the role or STATE_URL', () => {
      for (const name of ['HTTP_API_TOKENS', 'WEBHOOK_SECRET', 'WEBHOOK_URL']) {
        expect(text('s.yaml')).toContain(`${name}: \${env('${name}', '')}`);
      }
      expect(() => renderSYaml({ STATE_URL: deployEnv.STATE_URL })).toThrow(/DEPLOY_ROLE_ARN/);
      expect(() => renderSYaml({ ...deployEnv, DEPLOY_ROLE_ARN: '' })).toThrow(/DEPLOY_ROLE_ARN/);
      expect(() => renderSYaml({ DEPLOY_ROLE_ARN: deployEnv.DEPLOY_ROLE_ARN })).toThrow(/STATE_URL/);
    });
  });

  describe('each function gets only what its code reads', () => {
    it.each(entries)('%s: the environment equals the variables its bundle reads', async (name, resource) => {
      const reads = await envReadsOf(name);
      const needed = reads.filter((variable) => !RUNTIME_PROVIDED.test(variable));
      const given = Object.keys(envOf(resource)).sort();
      expect({ missing: needed.filter((variable) => !given.includes(variable)) }).toEqual({ missing: [] });
      expect({ extra: given.filter((variable) => !needed.includes(variable)) }).toEqual({ extra: [] });
    });

    it('no secret of one function reaches the other', () => {
      expect(Object.keys(envOf(project.resources.http))).not.toContain('WEBHOOK_SECRET');
      expect(Object.keys(envOf(project.resources.http))).not.toContain('WEBHOOK_URL');
      expect(Object.keys(envOf(project.resources.poller))).not.toContain('HTTP_API_TOKENS');
    });

    it.each(entries)('%s sets no variable FC reserves or provides (FC_*, ALIBABA_CLOUD_*)', (_, resource) => {
      expect(Object.keys(envOf(resource)).filter((name) => RUNTIME_PROVIDED.test(name))).toEqual([]);
    });

    it.each(entries)('%s stays within FC’s 4 KB of variables with generous real-world values', (name) => {
      const large = renderSYaml({
        ...deployEnv,
        // 8 bearer tokens as sha256 digests, 3 webhook URLs, 40 watched flows in 5 spaces.
        HTTP_API_TOKENS: Array.from({ length: 8 }, () => `sha256:${'a'.repeat(64)}`).join(','),
        WEBHOOK_URL: Array.from(
          { length: 3 },
          (_, index) => `https://hooks${index}.example.com/cams/flows/events`,
        ).join(','),
        WEBHOOK_SECRET: `whsec_${'A'.repeat(44)}`,
        WATCH_FLOWS: Array.from(
          { length: 40 },
          (_, index) => `cams-abcdefgh:${600000000000000 + index}`,
        ).join(','),
        WATCH_CUST_SPACES: Array.from({ length: 5 }, (_, index) => `cams-space${index}`).join(','),
        POLL_INTERVALS: 'BLOCKED=30,THROTTLED=30,PUBLISHED=60,DRAFT=120,DEPRECATED=3600,*=60',
        CAMS_CUST_SPACE_ID: 'cams-abcdefgh',
        TABLESTORE_ENDPOINT: vpcEnv.TABLESTORE_ENDPOINT,
      });
      expect(envBytes(envOf(large.resources[name]))).toBeLessThanOrEqual(FC_ENV_LIMIT_BYTES);
    });
  });

  describe('rules the fc3 schema does not catch', () => {
    it.each(TEMPLATES)(
      '%s sets no instanceConcurrency on a built-in runtime (FC 3.0 ignores or refuses it)',
      (file) => {
        const rendered = file === 's.yaml' ? project : renderSYaml(vpcEnv, file);
        for (const resource of Object.values(rendered.resources)) {
          if (BUILT_IN_RUNTIME.test(String(resource.props.runtime))) {
            expect(resource.props).not.toHaveProperty('instanceConcurrency');
          }
        }
      },
    );

    it('caps the http function at no fewer than 10 concurrent requests, from HTTP_MAX_INSTANCES', () => {
      // reservedConcurrency caps the whole function and nodejs20 serves one request per instance.
      const http = project.resources.http?.props.concurrencyConfig as { reservedConcurrency: unknown };
      expect(typeof http.reservedConcurrency).toBe('number');
      expect(http.reservedConcurrency).toBeGreaterThanOrEqual(10);
      const wider = renderSYaml({ ...deployEnv, HTTP_MAX_INSTANCES: '25' });
      expect(wider.resources.http?.props.concurrencyConfig).toEqual({ reservedConcurrency: 25 });
    });

    it('keeps the poller to one run at a time with retries fit for idempotent runs', () => {
      const poller = project.resources.poller?.props;
      expect(poller?.concurrencyConfig).toEqual({ reservedConcurrency: 1 });
      expect(poller?.asyncInvokeConfig).toEqual({ maxAsyncRetryAttempts: 2, maxAsyncEventAgeInSeconds: 300 });
      // npm start retries a failed timer run as often as FC would.
      expect(asyncRetryAttempts('poller')).toBe(2);
      // npm start caps each local instance's heap at what s.yaml gives the function.
      expect([memorySize('http'), memorySize('poller')]).toEqual([256, 256]);
    });

    it('triggers the poller with a cron expression FC accepts', () => {
      const triggers = project.resources.poller?.props.triggers as Array<{
        triggerType: string;
        triggerConfig: { cronExpression: string; enable: boolean };
      }>;
      expect(triggers.map((trigger) => trigger.triggerType)).toEqual(['timer']);
      for (const { triggerConfig } of triggers) {
        expect(fcCronProblem(triggerConfig.cronExpression)).toBeUndefined();
        expect(triggerConfig.enable).toBe(true);
      }
    });

    it.each([
      ['@every 1m', undefined],
      ['@every 1h30m', undefined],
      ['0 */5 * * * *', undefined],
      ['CRON_TZ=Asia/Shanghai 0 0 9 * * MON-FRI', undefined],
      ['0 0 0 1 JAN ?', undefined],
      ['@every 30s', expect.stringContaining('')],
      ['@every 0m', expect.stringContaining('1m')],
      ['*/5 * * * *', expect.stringContaining('6 fields')],
      ['0 60 * * * *', expect.stringContaining('minute')],
      ['0 0 25 * * *', expect.stringContaining('hour')],
      ['0 0 0 * * 8', expect.stringContaining('day-of-week')],
      ['0 */0 * * * *', expect.stringContaining('step')],
      ['@hourly', expect.stringContaining('@every')],
    ])('reads the cron expression %s as FC does', (expression, problem) => {
      expect(fcCronProblem(expression)).toEqual(problem);
    });

    it('opens the http trigger to every method the routes answer', () => {
      const [trigger] = (project.resources.http?.props.triggers ?? []) as Array<{
        triggerType: string;
        triggerConfig: { authType: string; methods: string[] };
      }>;
      expect(trigger?.triggerType).toBe('http');
      expect(trigger?.triggerConfig.authType).toBe('anonymous');
      const answered = [...new Set(ROUTES.flatMap((route) => route.methods))];
      expect(answered.filter((method) => !trigger?.triggerConfig.methods.includes(method))).toEqual([]);
    });

    it.each(TRIGGER_AUTH_TYPES)('deploys the trigger with authType %s, schema-valid', (authType) => {
      const rendered = renderSYaml({
        ...deployEnv,
        HTTP_TRIGGER_AUTH_TYPE: authType,
        HTTP_AUTH: authType === 'function' ? 'none' : 'token',
      });
      const http = rendered.resources.http;
      expect(validateProps(http?.props)).toBe(true);
      const [trigger] = (http?.props.triggers ?? []) as Array<{ triggerConfig: Record<string, unknown> }>;
      expect(trigger?.triggerConfig).toEqual({ authType, methods: ['GET', 'HEAD', 'POST'] });
    });

    // FC's jwt trigger needs authConfig.jwks and tokenLookup (IHttpTriggerConfig in the schema):
    // s.yaml has none to give, so the deploy check refuses jwt rather than deploy a keyless trigger.
    it('renders jwt without the authConfig it needs, so the deploy check refuses it', () => {
      const rendered = renderSYaml({ ...deployEnv, HTTP_TRIGGER_AUTH_TYPE: 'jwt' });
      const [trigger] = (rendered.resources.http?.props.triggers ?? []) as Array<{
        triggerConfig: Record<string, unknown>;
      }>;
      expect(trigger?.triggerConfig).not.toHaveProperty('authConfig');
      const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
      expect(schema.definitions.IHttpTriggerConfig.properties.authConfig.required).toEqual(
        expect.arrayContaining(['jwks', 'tokenLookup']),
      );
      expect(
        deployConfigProblems({ ...deployEnv, HTTP_TRIGGER_AUTH_TYPE: 'jwt', HTTP_AUTH: 'none' }),
      ).toEqual([expect.stringMatching(/^HTTP_TRIGGER_AUTH_TYPE=jwt is not supported/)]);
    });

    // The bundles come from the vitest global setup (scripts/build.mjs).
    it.each(entries)('%s code folder holds index.js exporting handler', (_, resource) => {
      const { code, handler } = resource.props as { code: string; handler: string };
      expect(handler).toBe('index.handler');
      const bundle = resolve(repoRoot, code, 'index.js');
      expect(existsSync(bundle), `${bundle} is built`).toBe(true);
      const loaded = requireBundle(bundle) as Record<string, unknown>;
      expect(typeof loaded.handler).toBe('function');
    });
  });

  describe('s.vpc.yaml (Tablestore reached over a VPC)', () => {
    it('gives both functions the same vpcConfig from the deploy variables, schema-valid', () => {
      const rendered = renderSYaml(vpcEnv, 's.vpc.yaml');
      for (const resource of Object.values(rendered.resources)) {
        expect(resource.props.vpcConfig).toEqual({
          vpcId: 'vpc-t4n1',
          vSwitchIds: ['vsw-t4na', 'vsw-t4nb'],
          securityGroupId: 'sg-t4n1',
        });
        expect(validateProps(resource.props)).toBe(true);
      }
      expect(envOf(rendered.resources.poller).TABLESTORE_ENDPOINT).toBe(vpcEnv.TABLESTORE_ENDPOINT);
      expect(Object.keys(rendered.resources).sort()).toEqual(['http', 'poller']);
    });

    it('renders DEPLOY_VSWITCH_IDS trimmed, without empty entries, as the configuration check reads it', () => {
      const rendered = renderSYaml({ ...vpcEnv, DEPLOY_VSWITCH_IDS: ' vsw-t4na, vsw-t4nb,' }, 's.vpc.yaml');
      for (const resource of Object.values(rendered.resources)) {
        expect((resource.props.vpcConfig as { vSwitchIds: unknown }).vSwitchIds).toEqual([
          'vsw-t4na',
          'vsw-t4nb',
        ]);
      }
    });

    it('refuses to render with part of the VPC missing', () => {
      const { DEPLOY_VSWITCH_IDS: _missing, ...partial } = vpcEnv;
      expect(() => renderSYaml(partial, 's.vpc.yaml')).toThrow(/DEPLOY_VSWITCH_IDS/);
    });

    it('s.yaml alone gives no vpcConfig', () => {
      for (const resource of entries.map(([, value]) => value))
        expect(resource.props).not.toHaveProperty('vpcConfig');
    });
  });
});

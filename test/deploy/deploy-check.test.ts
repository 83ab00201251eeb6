import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployConfigProblems, templateFor, vSwitchIdsOf } from '../../scripts/deploy-check/problems';
import { repoRoot } from './render-s-yaml';

const required = {
  DEPLOY_ROLE_ARN: 'acs:ram::1234567890123456:role/cams-flow-watch',
  STATE_URL: 'tablestore://cams-flow-watch/flow_state',
};
const vpc = { DEPLOY_VPC_ID: 'vpc-t4n1', DEPLOY_SECURITY_GROUP_ID: 'sg-t4n1' };

describe('deploy configuration check (the workflow step before s deploy)', () => {
  it('passes the workflow defaults and picks s.yaml, or s.vpc.yaml with a VPC', () => {
    const defaults = {
      ...required,
      HTTP_AUTH: 'token',
      HTTP_TRIGGER_AUTH_TYPE: 'anonymous',
      HTTP_MAX_INSTANCES: '10',
    };
    expect(deployConfigProblems(defaults)).toEqual([]);
    expect(templateFor(defaults)).toBe('s.yaml');
    const withVpc = { ...defaults, ...vpc, DEPLOY_VSWITCH_IDS: 'vsw-t4na,vsw-t4nb' };
    expect(deployConfigProblems(withVpc)).toEqual([]);
    expect(templateFor(withVpc)).toBe('s.vpc.yaml');
  });

  it('names missing required variables and a VPC set only in part', () => {
    expect(deployConfigProblems({ DEPLOY_VPC_ID: 'vpc-t4n1' })).toEqual([
      'DEPLOY_ROLE_ARN is not set (see docs/deploy.md)',
      'STATE_URL is not set (see docs/deploy.md)',
      'set all of DEPLOY_VPC_ID, DEPLOY_VSWITCH_IDS, DEPLOY_SECURITY_GROUP_ID or none (see docs/deploy.md)',
    ]);
    expect(deployConfigProblems({ ...required, HTTP_MAX_INSTANCES: '4' })).toEqual([
      expect.stringMatching(/^HTTP_MAX_INSTANCES must be a whole number of at least 10/),
    ]);
  });

  it.each(['file:.local/state', 'file:/tmp/state', ' file:/mnt/nas/state '])(
    'refuses STATE_URL=%s: in FC that is the read-only code folder or one instance’s own /tmp',
    (stateUrl) => {
      expect(deployConfigProblems({ ...required, STATE_URL: stateUrl })).toEqual([
        expect.stringMatching(
          /^STATE_URL must be tablestore:\/\/<instance>\/<table> in Function Compute: file: is for local runs/,
        ),
      ]);
    },
  );

  it('refuses a STATE_URL that is neither form, naming tablestore:// as the one for FC', () => {
    expect(deployConfigProblems({ ...required, STATE_URL: 'redis://cache:6379' })).toContain(
      'STATE_URL must be tablestore://<instance>/<table> in Function Compute: file: is for local runs, where each FC instance would keep its own state or none (see docs/deploy.md)',
    );
  });

  it('reads DEPLOY_VSWITCH_IDS as s.vpc.yaml does: trimmed, empty entries dropped', () => {
    expect(vSwitchIdsOf('vsw-a, vsw-b,')).toEqual(['vsw-a', 'vsw-b']);
    expect(vSwitchIdsOf(' vsw-a ,,vsw-b ')).toEqual(['vsw-a', 'vsw-b']);
    expect(deployConfigProblems({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: '"vsw-a, vsw-b,"' })).toEqual([
      expect.stringMatching(/^DEPLOY_VSWITCH_IDS: .*vsw-a.* is not a vSwitch id — give comma-separated ids/),
    ]);
    expect(deployConfigProblems({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: 'vsw-a vsw-b' })).toEqual([
      expect.stringContaining('"vsw-a vsw-b" is not a vSwitch id'),
    ]);
    expect(deployConfigProblems({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: ' , ' })).toEqual([
      expect.stringMatching(/^DEPLOY_VSWITCH_IDS holds no vSwitch id/),
    ]);
    expect(deployConfigProblems({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: 'vsw-a,vsw-a' })).toEqual([
      expect.stringMatching(/names a vSwitch twice/),
    ]);
    expect(deployConfigProblems({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: 'vsw-a, vsw-b,' })).toEqual([]);
  });

  it.each([
    ['function', 'none', undefined],
    ['anonymous', 'token', undefined],
    ['jwt', 'none', /^HTTP_TRIGGER_AUTH_TYPE=jwt is not supported: .*authConfig \(jwks keys, tokenLookup\)/],
    ['function', 'token', /^HTTP_TRIGGER_AUTH_TYPE=function with HTTP_AUTH=token: .*set HTTP_AUTH=none/],
    ['anonymous', 'none', /^HTTP_AUTH=none behind an anonymous trigger opens the API to anyone/],
    ['Function', 'none', /^HTTP_TRIGGER_AUTH_TYPE must be anonymous or function$/],
  ])('trigger authType %s with HTTP_AUTH=%s', (triggerAuth, functionAuth, problem) => {
    const problems = deployConfigProblems({
      ...required,
      HTTP_TRIGGER_AUTH_TYPE: triggerAuth,
      HTTP_AUTH: functionAuth,
    });
    expect(problems).toEqual(problem ? [expect.stringMatching(problem)] : []);
  });

  it.each([
    [
      'a plain WEBHOOK_SECRET for the standard format',
      { WEBHOOK_URL: 'https://hooks.example.com/x', WEBHOOK_SECRET: 'plain-secret-of-thirty-two-bytes!' },
      /^WEBHOOK_SECRET must start with whsec_/,
    ],
    [
      'a webhook format that needs a secret without one',
      { WEBHOOK_URL: 'https://hooks.example.com/x', WEBHOOK_FORMAT: 'feishu' },
      /^WEBHOOK_SECRET is required when WEBHOOK_FORMAT is feishu/,
    ],
    [
      'a webhook URL that is no URL',
      { WEBHOOK_URL: 'token=abc123', WEBHOOK_FORMAT: 'slack' },
      /^WEBHOOK_URL entry 1 is not a valid URL/,
    ],
    [
      'a webhook URL with a user name and password, which would never be sent',
      { WEBHOOK_URL: 'https://hook:s3cret-pass@hooks.example.com/x', WEBHOOK_FORMAT: 'slack' },
      /^WEBHOOK_URL entry 1 carries a user name or password/,
    ],
    [
      'a CAMS_ENDPOINT without its scheme',
      { CAMS_ENDPOINT: 'cams.ap-southeast-1.aliyuncs.com' },
      /^CAMS_ENDPOINT /,
    ],
    ['a CAMS_QPS that is no number', { CAMS_QPS: 'five' }, /^CAMS_QPS /],
    [
      'a TABLESTORE_ENDPOINT with a port out of range',
      { TABLESTORE_ENDPOINT: 'https://cams-flow-watch.ap-southeast-1.ots.aliyuncs.com:99999' },
      /^TABLESTORE_ENDPOINT /,
    ],
    ['a POLL_INTERVALS typo', { POLL_INTERVALS: 'PUBLISHED=fast' }, /^POLL_INTERVALS /],
    ['an HTTP cache lifetime out of range', { HTTP_CACHE_TTL_SECONDS: '99999' }, /^HTTP_CACHE_TTL_SECONDS /],
    [
      'POLL_QPS not below CAMS_ACCOUNT_QPS',
      { CAMS_ACCOUNT_QPS: '4', POLL_QPS: '4' },
      /^POLL_QPS \(4\) must be below CAMS_ACCOUNT_QPS \(4\)/,
    ],
  ])(
    'refuses %s by the functions’ own rules, before s deploy, without echoing a secret',
    (_name, values, message) => {
      const problems = deployConfigProblems({ ...required, ...values });
      expect(problems).toEqual([expect.stringMatching(message)]);
      // The secrets' values never appear (a URL's query string is often its credential).
      const secrets = Object.entries(values).filter(
        ([name]) => name === 'WEBHOOK_SECRET' || name === 'WEBHOOK_URL',
      );
      for (const [, value] of secrets) expect(problems.join('\n')).not.toContain(value);
    },
  );

  it('runs as the workflow runs it: error annotations and exit 1, or S_TEMPLATE in $GITHUB_ENV', () => {
    const workflow = readFileSync(join(repoRoot, '.github/workflows/deploy.yml'), 'utf8');
    expect(workflow).toContain('npx tsx scripts/check-deploy.ts');
    const githubEnv = join(mkdtempSync(join(tmpdir(), 'cfw-check-')), 'env');
    const run = (env: Record<string, string>) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/check-deploy.ts'], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', GITHUB_ENV: githubEnv, ...env },
        encoding: 'utf8',
      });
    expect(run({ ...required, ...vpc, DEPLOY_VSWITCH_IDS: 'vsw-a' })).toBe(
      'deploy configuration ok: s deploy -t s.vpc.yaml\n',
    );
    expect(readFileSync(githubEnv, 'utf8')).toBe('S_TEMPLATE=s.vpc.yaml\n');
    let failed: { status?: number; stdout?: string } = {};
    try {
      run({ ...required, HTTP_TRIGGER_AUTH_TYPE: 'jwt' });
    } catch (error) {
      failed = error as typeof failed;
    }
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/^::error::HTTP_TRIGGER_AUTH_TYPE=jwt is not supported/);
    failed = {};
    try {
      run({ ...required, STATE_URL: 'file:.local/state' });
    } catch (error) {
      failed = error as typeof failed;
    }
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(
      /^::error::STATE_URL must be tablestore:\/\/<instance>\/<table> in Function Compute/,
    );
  });
});

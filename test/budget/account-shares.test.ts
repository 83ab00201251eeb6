import { describe, expect, it } from 'vitest';
import { parseHttpConfig } from '../../functions/http/config';
import { deployConfigProblems } from '../../scripts/deploy-check/problems';
import { parseAccountShares } from '../../shared/budget';
import { adviceFor } from '../../shared/cams';
import { ConfigError } from '../../shared/config-error';
import { parsePollerConfig } from '../../shared/poller';

const deployRequired = {
  DEPLOY_ROLE_ARN: 'acs:ram::1234567890123456:role/cams-flow-watch',
  STATE_URL: 'tablestore://cams-flow-watch/flow_state',
};

/** What each reader of the pair makes of it: the refusal's message, or null when it goes ahead. */
function verdicts(pair: Record<string, string>) {
  const refusal = (parse: () => unknown) => {
    try {
      parse();
      return null;
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };
  const deployProblems = deployConfigProblems({ ...deployRequired, ...pair });
  return {
    http: refusal(() => parseHttpConfig(pair)),
    poller: refusal(() => parsePollerConfig(pair)),
    deployCheck: deployProblems.length === 0 ? null : deployProblems.join('\n'),
  };
}

/** The pair the advice names, e.g. "CAMS_ACCOUNT_QPS=4 with POLL_QPS=3". */
function advisedPair(advice: string): Record<string, string> {
  const match = /CAMS_ACCOUNT_QPS=(\d+) with POLL_QPS=(\d+)/.exec(advice);
  if (!match?.[1] || !match[2]) throw new Error(`no exact pair in the advice: ${advice}`);
  return { CAMS_ACCOUNT_QPS: match[1], POLL_QPS: match[2] };
}

describe('CAMS_ACCOUNT_QPS and POLL_QPS (one rule for both functions and the deploy check)', () => {
  it('defaults to 5 calls/s for the account, 4 of them the poller’s', () => {
    expect(parseAccountShares({})).toEqual({ accountQps: 5, pollQps: 4 });
  });

  it.each([
    [{}],
    [{ CAMS_ACCOUNT_QPS: '4', POLL_QPS: '3' }],
    [{ CAMS_ACCOUNT_QPS: '2', POLL_QPS: '1' }],
    [{ CAMS_ACCOUNT_QPS: '1', POLL_QPS: '0.5' }],
    [{ CAMS_ACCOUNT_QPS: '5', POLL_QPS: '4.5' }],
  ])('all three accept %o', (pair) => {
    expect(verdicts(pair)).toEqual({ http: null, poller: null, deployCheck: null });
  });

  it.each([
    // Lowering the account alone, as the throttling advice used to say: the default POLL_QPS is 4.
    [{ CAMS_ACCOUNT_QPS: '4' }, 'POLL_QPS (4) must be below CAMS_ACCOUNT_QPS (4)', 'POLL_QPS=3'],
    [
      { CAMS_ACCOUNT_QPS: '5', POLL_QPS: '5' },
      'POLL_QPS (5) must be below CAMS_ACCOUNT_QPS (5)',
      'POLL_QPS=4',
    ],
    [{ POLL_QPS: '50' }, 'POLL_QPS (50) must be below CAMS_ACCOUNT_QPS (5)', 'POLL_QPS=4'],
    [{ CAMS_ACCOUNT_QPS: '1' }, 'POLL_QPS (4) must be below CAMS_ACCOUNT_QPS (1)', 'POLL_QPS=0.5'],
  ])('all three refuse %o alike, naming both variables and a pair that works', (pair, problem, fix) => {
    const { http, poller, deployCheck } = verdicts(pair);
    expect(http).toContain(problem);
    expect(http).toContain(`set ${fix} (or lower) with CAMS_ACCOUNT_QPS=`);
    expect(poller).toBe(http);
    expect(deployCheck).toBe(http);
  });

  it.each([
    [{ CAMS_ACCOUNT_QPS: '4.5' }, 'CAMS_ACCOUNT_QPS must be a whole number'],
    [{ CAMS_ACCOUNT_QPS: '0' }, 'CAMS_ACCOUNT_QPS must be a whole number'],
    [{ POLL_QPS: '0' }, 'POLL_QPS must be a positive number'],
    [{ POLL_QPS: 'four' }, 'POLL_QPS must be a positive number'],
    [
      { CAMS_ACCOUNT_QPS: '1000', POLL_QPS: '101' },
      'POLL_QPS must be a positive number of calls per second, at most 100',
    ],
  ])('all three refuse a malformed %o with the same message', (pair, problem) => {
    const { http, poller, deployCheck } = verdicts(pair);
    expect(http).toMatch(new RegExp(`^${problem}`));
    expect(poller).toBe(http);
    expect(deployCheck).toBe(http);
  });

  it.each(['System.LimitControl', 'Throttling.User'])(
    'the advice for %s names an exact pair both functions run on',
    (code) => {
      const advice = adviceFor(code);
      expect(advice).toContain('lower CAMS_ACCOUNT_QPS');
      expect(advice).toContain('keep POLL_QPS below it');
      const pair = advisedPair(advice);
      expect(Number(pair.CAMS_ACCOUNT_QPS)).toBeLessThan(5);
      expect(verdicts(pair)).toEqual({ http: null, poller: null, deployCheck: null });
    },
  );
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeployTimingError, deployTimingOf, timerPeriodSeconds } from '../../scripts/smoke/deploy-timing';
import { repoRoot } from './render-s-yaml';

const sYaml = readFileSync(join(repoRoot, 's.yaml'), 'utf8');

describe('deploy timing (how long the smoke check waits out 429s)', () => {
  it('reads the timeouts and the timer period s.yaml deploys', () => {
    expect(deployTimingOf(sYaml)).toEqual({
      httpTimeoutSeconds: 10,
      pollerTimeoutSeconds: 60,
      timerPeriodSeconds: 60,
    });
  });

  it('follows a change of the poller timeout or timer in s.yaml', () => {
    const changed = sYaml
      .replace('timeout: 60', 'timeout: 90')
      .replace('cronExpression: "@every 1m"', 'cronExpression: "@every 1h5m"');
    expect(deployTimingOf(changed)).toMatchObject({ pollerTimeoutSeconds: 90, timerPeriodSeconds: 3900 });
  });

  it.each([
    ['@every 1m', 60],
    ['@every 2h', 7200],
    // A cron expression: FC's shortest timer period, enough (a longer one leaves longer gaps).
    ['0 */5 * * * *', 60],
    ['CRON_TZ=Asia/Shanghai 0 0 9 * * MON-FRI', 60],
  ])('takes %s as a period of %i s', (expression, seconds) => {
    expect(timerPeriodSeconds(expression)).toBe(seconds);
  });

  it('refuses a timeout it cannot read, naming it', () => {
    const templated = sYaml.replace('timeout: 60', `timeout: \${env('POLLER_TIMEOUT', '60')}`);
    expect(() => deployTimingOf(templated)).toThrow(DeployTimingError);
    expect(() => deployTimingOf(templated)).toThrow(/resources\.poller\.props\.timeout/);
    expect(() => deployTimingOf('resources: {}')).toThrow(/timer trigger/);
  });
});

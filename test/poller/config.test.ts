import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/config-error';
import { DEFAULT_INTERVALS_S, parsePollerConfig } from '../../shared/poller';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('poller configuration', () => {
  it('applies the documented defaults', () => {
    const config = parsePollerConfig({});
    expect(config).toEqual({
      watchFlows: [],
      watchCustSpaces: [],
      accountQps: 5,
      pollQps: 4,
      intervalsS: DEFAULT_INTERVALS_S,
      discoveryIntervalS: 600,
      webhookMaxAgeMs: 72 * 3600 * 1000,
      stateUrl: 'file:.local/state',
    });
  });

  it('parses WATCH_FLOWS entries with and without a cust space', () => {
    const config = parsePollerConfig({
      WATCH_FLOWS: ' 1234567890123, cams-abc:999 ,,',
      WATCH_CUST_SPACES: 'cams-abc, cams-def',
    });
    expect(config.watchFlows).toEqual([
      { flowId: '1234567890123' },
      { custSpaceId: 'cams-abc', flowId: '999' },
    ]);
    expect(config.watchCustSpaces).toEqual(['cams-abc', 'cams-def']);
  });

  it('overrides single status intervals and keeps the others', () => {
    const config = parsePollerConfig({ POLL_INTERVALS: 'THROTTLED=10,*=45, CUSTOM_STATUS=5' });
    expect(config.intervalsS).toMatchObject({ THROTTLED: 10, '*': 45, CUSTOM_STATUS: 5, DEPRECATED: 3600 });
  });

  it.each([
    [{ WATCH_FLOWS: '12/34' }, 'WATCH_FLOWS'],
    [{ WATCH_FLOWS: 'a:b:c' }, 'WATCH_FLOWS'],
    [{ WATCH_FLOWS: 'cams-1:' }, 'WATCH_FLOWS'],
    [{ WATCH_CUST_SPACES: 'bad space' }, 'WATCH_CUST_SPACES'],
    [{ POLL_QPS: '0' }, 'POLL_QPS'],
    [{ POLL_QPS: 'four' }, 'POLL_QPS'],
    [{ WEBHOOK_MAX_AGE_HOURS: '-1' }, 'WEBHOOK_MAX_AGE_HOURS'],
    [{ POLL_INTERVALS: 'THROTTLED:30' }, 'POLL_INTERVALS'],
    [{ POLL_INTERVALS: 'throttled=x' }, 'POLL_INTERVALS'],
    [{ STATE_URL: 'postgres://db.example/state' }, 'STATE_URL'],
    [{ STATE_URL: 'file:' }, 'STATE_URL'],
    [
      { STATE_URL: 'tablestore://cfw-a/flow_state', TABLESTORE_ENDPOINT: 'ots.example' },
      'TABLESTORE_ENDPOINT',
    ],
  ])('rejects %o naming %s', (env, variable) => {
    const error = configError(() => parsePollerConfig(env));
    expect(error.variable).toBe(variable);
    expect(error.code).toBe('InvalidConfiguration');
    expect(error.message.startsWith(variable)).toBe(true);
  });

  it('converts WEBHOOK_MAX_AGE_HOURS to milliseconds and trims STATE_URL', () => {
    const config = parsePollerConfig({ WEBHOOK_MAX_AGE_HOURS: '1.5', STATE_URL: ' file:/tmp/x ' });
    expect(config.webhookMaxAgeMs).toBe(1.5 * 3600 * 1000);
    expect(config.stateUrl).toBe('file:/tmp/x');
  });
});

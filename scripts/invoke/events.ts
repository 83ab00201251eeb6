// Default events for a smoke check, shaped as FC 3.0 delivers them to our handlers
// (see docs/deploy.md): InvokeFunction hands its body to the handler unchanged, so the http
// function gets an HTTP-trigger v1 event and the poller a timer event.

export function httpHealthEvent(now: Date): string {
  return JSON.stringify({
    version: 'v1',
    rawPath: '/healthz',
    headers: { 'User-Agent': 'cams-flow-watch-invoke' },
    queryParameters: {},
    body: '',
    isBase64Encoded: false,
    requestContext: {
      http: {
        method: 'GET',
        path: '/healthz',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'cams-flow-watch-invoke',
      },
      requestId: 'invoke-smoke-check',
      time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      timeEpoch: String(now.getTime()),
    },
  });
}

export function timerEvent(now: Date, payload: Record<string, unknown> = { source: 'invoke' }): string {
  return JSON.stringify({
    triggerTime: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    triggerName: 'every-minute',
    payload: JSON.stringify(payload),
  });
}

/** The poller checks configuration, credentials, state store and CAMS, and delivers nothing. */
export function dryRunTimerEvent(now: Date): string {
  return timerEvent(now, { source: 'smoke', dryRun: true });
}

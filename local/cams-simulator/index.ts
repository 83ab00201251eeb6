/**
 * A CAMS stand-in on 127.0.0.1 for tests, `npm start` and benchmarks: GetFlow and ListFlow as
 * documented, ACS3 signature/date/nonce/STS checks like the gateway, the per-account 5 calls/s
 * limit, scripted statuses and injectable faults.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { buffer } from 'node:stream/consumers';
import type { Credentials } from '../../shared/cams/types';
import { systemClock } from '../../shared/clock';
import { watchConnections } from '../connections';
import { listen } from '../listen';
import { type ArrivedRequest, parseAuthorization, verifyRequest } from './acs3-verifier';
import { FlowBook } from './flow-book';
import type { CamsSimulator, CamsSimulatorOptions, SimCall, SimFault, SimFaultMatch, SimFlow } from './types';

export type {
  CamsSimulator,
  CamsSimulatorOptions,
  SimAccount,
  SimCall,
  SimFault,
  SimFaultMatch,
  SimFlow,
} from './types';

/** STS-style role credentials, as FC injects them. */
export const SIMULATOR_CREDENTIALS: Credentials = {
  accessKeyId: 'STS.SimulatorRoleKey',
  accessKeySecret: 'simulator-role-secret',
  securityToken: 'simulator-security-token',
};

/** A plain (long-lived style) access key of the same simulated account. */
export const SIMULATOR_ACCESS_KEY: Credentials = {
  accessKeyId: 'LTAISimulatorAccessKey',
  accessKeySecret: 'simulator-access-key-secret',
};

const API_VERSION = '2020-06-06';
const MAX_SKEW_MS = 15 * 60 * 1000;
const WINDOW_MS = 1000;
const ACTIONS = new Set(['GetFlow', 'ListFlow']);

interface Account {
  readonly accountId: string;
  readonly book: FlowBook;
  /** Arrival times of the calls of the last window, refused ones included. */
  recent: number[];
}

interface ActiveFault {
  readonly fault: SimFault;
  readonly match: SimFaultMatch;
  remaining: number;
}

class Reply {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

const MESSAGES: Readonly<Record<string, string>> = {
  'Product.Unsubscript': 'You have not subscribed to the specified product.',
  'Ram.PermissionDeny': 'You are not authorized to perform the operation.',
  'System.LimitControl': 'The system is under flow control.',
  'Unknown.ResourceOwnerId': 'The resource does not belong to the current user.',
  'Throttling.User': 'Request was denied due to user flow control.',
};

function reply(code: string, httpStatus = 400, message = MESSAGES[code] ?? `${code}.`): Reply {
  return new Reply(httpStatus, code, message);
}

function parseAcsDate(value: string | undefined): number | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

export async function startCamsSimulator(options: CamsSimulatorOptions = {}): Promise<CamsSimulator> {
  const clock = options.clock ?? systemClock;
  let rateLimit: number | false = options.rateLimit ?? 5;
  const defaultAccount: Account = { accountId: 'sim-account', book: new FlowBook(options.flows), recent: [] };
  const accountsByKey = new Map<string, { account: Account; credentials: Credentials }>();
  for (const credentials of [SIMULATOR_CREDENTIALS, SIMULATOR_ACCESS_KEY]) {
    accountsByKey.set(credentials.accessKeyId, { account: defaultAccount, credentials });
  }
  for (const extra of options.accounts ?? []) {
    const account: Account = { accountId: extra.accountId, book: new FlowBook(extra.flows), recent: [] };
    for (const credentials of extra.credentials)
      accountsByKey.set(credentials.accessKeyId, { account, credentials });
  }
  const seenNonces = new Map<string, number>();
  let faults: ActiveFault[] = [];
  const calls: SimCall[] = [];

  /**
   * The reference does not say whether CAMS counts a refused call toward the account's 5 calls/s.
   * The simulator does (the stricter reading): a caller that keeps retrying into the limit stays
   * refused, so nothing tested here relies on refused calls being free.
   */
  function admit(account: Account, now: number): boolean {
    account.recent = account.recent.filter((at) => at > now - WINDOW_MS);
    const isAdmitted = rateLimit === false || account.recent.length < rateLimit;
    account.recent.push(now);
    return isAdmitted;
  }

  function rememberNonce(accessKeyId: string, nonce: string, now: number): boolean {
    const key = `${accessKeyId}\u0000${nonce}`;
    const seenAt = seenNonces.get(key);
    if (seenAt !== undefined && now - seenAt < MAX_SKEW_MS) return false;
    seenNonces.set(key, now);
    if (seenNonces.size > 100_000) {
      for (const [entry, at] of seenNonces) if (now - at >= MAX_SKEW_MS) seenNonces.delete(entry);
    }
    return true;
  }

  function takeFault(
    action: string,
    flowId: string | undefined,
    isKind: (fault: SimFault) => boolean = (fault) => fault.kind !== 'transit',
  ): SimFault | undefined {
    const active = faults.find(
      (entry) =>
        entry.remaining > 0 &&
        isKind(entry.fault) &&
        (!entry.match.action || entry.match.action === action) &&
        (!entry.match.flowId || entry.match.flowId === flowId) &&
        (entry.match.untilMs === undefined || clock.now() < entry.match.untilMs),
    );
    if (!active) return undefined;
    active.remaining -= 1;
    return active.fault;
  }

  function authenticate(
    arrived: ArrivedRequest,
    now: number,
  ): { account: Account; accessKeyId: string } | Reply {
    const authorization = parseAuthorization(arrived.headers.authorization);
    if (!authorization)
      return reply('IncompleteSignature', 400, 'The request signature does not conform to Aliyun standards.');
    const known = accountsByKey.get(authorization.accessKeyId);
    if (!known) return reply('InvalidAccessKeyId.NotFound', 404, 'Specified access key is not found.');
    const verdict = verifyRequest(arrived, authorization, known.credentials.accessKeySecret);
    if (verdict === 'SignatureDoesNotMatch' || verdict === 'ContentSha256Mismatch') {
      return reply(
        'SignatureDoesNotMatch',
        400,
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    if (verdict)
      return reply('IncompleteSignature', 400, `The request signature is incomplete (${verdict}).`);
    const date = parseAcsDate(arrived.headers['x-acs-date'] as string | undefined);
    if (date === undefined)
      return reply('MissingParameter', 400, 'x-acs-date is missing or not yyyy-MM-ddTHH:mm:ssZ.');
    if (Math.abs(now - date) > MAX_SKEW_MS) {
      return reply('InvalidTimeStamp.Expired', 400, 'Specified time stamp or date value is expired.');
    }
    const nonce = arrived.headers['x-acs-signature-nonce'];
    if (typeof nonce !== 'string' || nonce === '') return reply('MissingSignatureNonce', 400);
    if (!rememberNonce(authorization.accessKeyId, nonce, now)) {
      return reply('SignatureNonceUsed', 400, 'Specified signature nonce was used already.');
    }
    const token = arrived.headers['x-acs-security-token'];
    if (known.credentials.securityToken !== undefined) {
      if (typeof token !== 'string' || token === '') {
        return reply('MissingSecurityToken', 400, 'An STS access key requires x-acs-security-token.');
      }
      if (token !== known.credentials.securityToken) {
        return reply(
          'InvalidSecurityToken.MismatchWithAccessKey',
          400,
          'The security token does not match the access key.',
        );
      }
    }
    return { account: known.account, accessKeyId: authorization.accessKeyId };
  }

  function getFlow(account: Account, form: URLSearchParams, now: number): Reply | Record<string, unknown> {
    const flowId = form.get('FlowId');
    if (!flowId) return reply('MissingFlowId', 400, 'FlowId is mandatory for this action.');
    const entry = account.book.find(flowId, form.get('CustSpaceId') ?? undefined);
    if (!entry) return reply('Unknown.ResourceOwnerId');
    const preview = account.book.previewAt(entry, now);
    const { flow } = entry;
    return {
      Status: account.book.statusAt(entry, now),
      FlowId: flow.flowId,
      FlowName: flow.flowName,
      Categories: flow.categories ?? ['OTHER'],
      JSONVersion: flow.jsonVersion ?? '6.1',
      DataApiVersion: flow.dataApiVersion ?? '3.0',
      PreviewUrl: preview.url,
      PreviewUrlExpires: preview.expiresAt,
      ...(flow.endpointUri ? { EndpointUri: flow.endpointUri } : {}),
    };
  }

  function listFlow(account: Account, form: URLSearchParams): Reply | unknown[] {
    let index = 1;
    let size = 20;
    const page = form.get('Page');
    if (page !== null) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(page);
      } catch {
        return reply('InvalidParameter', 400, 'Page must be JSON like {"Index":1,"Size":20}.');
      }
      const { Index, Size } = (parsed ?? {}) as { Index?: unknown; Size?: unknown };
      if (
        !Number.isInteger(Index) ||
        !Number.isInteger(Size) ||
        (Index as number) < 1 ||
        (Size as number) < 1
      ) {
        return reply('InvalidParameter', 400, 'Page.Index and Page.Size must be positive integers.');
      }
      index = Index as number;
      size = Math.min(Size as number, 100);
    }
    const flows = account.book.list(form.get('CustSpaceId') ?? undefined, form.get('FlowName') ?? undefined);
    return flows.slice((index - 1) * size, index * size).map((flow) => ({
      FlowId: flow.flowId,
      FlowName: flow.flowName,
      Categories: flow.categories ?? ['OTHER'],
    }));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await buffer(request);
    const action = String(request.headers['x-acs-action'] ?? '');
    const form = new URLSearchParams(body.toString('utf8'));
    const flowId = form.get('FlowId') ?? undefined;
    // Before anything else: CAMS sees (checks, counts, reads) a request only once it arrives.
    const transit = takeFault(action, flowId, (fault) => fault.kind === 'transit');
    if (transit?.kind === 'transit') await clock.sleep(transit.ms);
    const now = clock.now();
    const requestId = randomUUID().toUpperCase();
    const custSpaceId = form.get('CustSpaceId') ?? undefined;
    let accessKeyId = '';
    const record = (httpStatus: number, code: string) =>
      calls.push({ at: now, action, accessKeyId, flowId, custSpaceId, httpStatus, code });
    const send = (httpStatus: number, payload: unknown, raw?: string) => {
      response.writeHead(httpStatus, {
        'content-type': 'application/json;charset=utf-8',
        'x-acs-request-id': requestId,
      });
      response.end(raw ?? JSON.stringify(payload));
    };
    const sendReply = (answer: Reply, httpStatus = answer.httpStatus) => {
      record(httpStatus, answer.code);
      send(httpStatus, {
        RequestId: requestId,
        HostId: 'cams.ap-southeast-1.aliyuncs.com',
        Code: answer.code,
        Message: answer.message,
      });
    };

    const arrived: ArrivedRequest = {
      method: request.method ?? '',
      target: request.url ?? '/',
      headers: request.headers,
      body,
    };
    const identity = authenticate(arrived, now);
    if (identity instanceof Reply) return sendReply(identity);
    accessKeyId = identity.accessKeyId;
    if (request.method !== 'POST' && request.method !== 'GET')
      return sendReply(reply('UnsupportedHTTPMethod', 400));
    if (request.headers['x-acs-version'] !== API_VERSION)
      return sendReply(reply('InvalidVersion', 400, `Use ${API_VERSION}.`));
    if (!ACTIONS.has(action))
      return sendReply(reply('InvalidAction.NotFound', 404, `${action} is not supported by the simulator.`));
    if (!admit(identity.account, now)) return sendReply(reply('System.LimitControl'));

    const fault = takeFault(action, flowId);
    if (fault?.kind === 'latency') await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === 'reset') {
      record(0, 'ConnectionReset');
      request.socket.destroy();
      return;
    }
    if (fault?.kind === 'http-status') {
      record(fault.httpStatus, `HTTP${fault.httpStatus}`);
      response
        .writeHead(fault.httpStatus, { 'content-type': 'text/html' })
        .end(`<html><body>${fault.httpStatus}</body></html>`);
      return;
    }
    if (fault?.kind === 'malformed') {
      record(200, 'Malformed');
      return send(200, undefined, `{"RequestId":"${requestId}","Code":"OK","Data":{"Status":"PUBL`);
    }
    if (fault?.kind === 'error') return sendReply(reply(fault.code));
    if (fault?.kind === 'ok-with-code') return sendReply(reply(fault.code), 200);

    const data =
      action === 'GetFlow' ? getFlow(identity.account, form, now) : listFlow(identity.account, form);
    if (fault?.kind === 'late-answer') {
      fault.onArrived?.();
      await fault.release.catch(() => undefined);
    }
    if (fault?.kind === 'answer') {
      const answer =
        data instanceof Reply
          ? { RequestId: requestId, Code: data.code, Message: data.message }
          : { RequestId: requestId, Code: 'OK', Message: 'None', Data: data };
      const rewritten = fault.rewrite(answer);
      const httpStatus = fault.httpStatus ?? 200;
      record(httpStatus, 'Rewritten');
      return typeof rewritten === 'string'
        ? send(httpStatus, undefined, rewritten)
        : send(httpStatus, undefined, JSON.stringify(rewritten) ?? 'null');
    }
    if (data instanceof Reply) return sendReply(data);
    record(200, 'OK');
    send(200, { RequestId: requestId, Code: 'OK', Message: 'None', Data: data });
  }

  const listener = (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  };
  const server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener)
    : createServer(listener);
  const connections = watchConnections(server);
  const { port } = await listen(server, options.port ?? 0, '127.0.0.1');
  const book = defaultAccount.book;

  return {
    endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    calls,
    connections,
    setFlow: (flow: SimFlow) => book.set(flow),
    setStatus: (flowId, status, custSpaceId) => book.setStatus(flowId, status, custSpaceId),
    scriptStatus: (flowId, steps, custSpaceId) => book.script(flowId, steps, custSpaceId, clock.now()),
    deleteFlow: (flowId, custSpaceId) => book.delete(flowId, custSpaceId),
    injectFault: (fault, match = {}) => {
      faults.push({ fault, match, remaining: match.times ?? Number.POSITIVE_INFINITY });
    },
    clearFaults: () => {
      faults = [];
    },
    setRateLimit: (limit) => {
      rateLimit = limit;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * One signed Tablestore call and its answer, for the store (store.ts): signing, the POST over
 * node's own http/https with a keep-alive agent, the whole-call timeout, the checks every answer
 * must pass before its body is read (Tablestore's headers, its MD5, at most 16 MB), error answers
 * turned into StateStoreErrors, and retries only where repeating cannot apply a write twice.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Credentials } from '../../cams/types';
import { type Clock, systemClock } from '../../clock';
import { StateStoreError } from '../errors';
import { otsError, requestIdOf, untrustedCertificate } from '../tablestore-errors';
import type { TablestoreLocation } from '../tablestore-location';
import { errorOf } from './messages';
import { WireFormatError } from './protobuf';
import { signOtsRequest } from './signature';

export interface TablestoreConnectionOptions extends TablestoreLocation {
  readonly credentials: Credentials;
  /** Whole-call timeout, from sending to the last byte of the answer. */
  readonly timeoutMs?: number;
  /** Further attempts after a failure that Tablestore says left nothing applied. */
  readonly maxRetries?: number;
  readonly clock?: Clock;
}

/** Tablestore answers at most 4 MB per GetRange page; anything far larger is not Tablestore. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const RETRY_BASE_MS = 100;
/** Reads may be repeated after any retryable failure; a write only if it surely was not applied. */
const IDEMPOTENT = new Set(['GetRow', 'GetRange']);
const NOT_APPLIED = new Set([
  'OTSServerBusy',
  'OTSNotEnoughCapacityUnit',
  'OTSOperationThrottled',
  'OTSQuotaExhausted',
  'OTSRowOperationConflict',
  'OTSTableNotReady',
  'OTSPartitionUnavailable',
]);
/** An answer as it came: headers are checked by the caller. */
interface RawAnswer {
  readonly statusCode: number;
  readonly answerMd5: unknown;
  readonly requestId: unknown;
  readonly answer: Buffer;
}
interface Transport {
  readonly request: typeof httpRequest;
  readonly agent: HttpAgent;
  /** When (performance.now()) the last request on this pool ended or began: how long its idle sockets have sat. */
  lastUsedAt: number;
}
/**
 * Idle pooled connections older than this are closed instead of reused. FC freezes an instance
 * between invocations, so neither our agent's idle timer nor the server's close (a FIN) is
 * processed while frozen: on thaw, a pooled socket the server closed long ago still looks free,
 * and a write sent on it fails (NetworkingError — the budget would fall back to its local share
 * and the answer go unshared). Below the 5 s idle timeout common HTTP servers use (Node's default
 * keepAliveTimeout); a warm instance under steady traffic keeps its connections.
 */
const MAX_IDLE_REUSE_MS = 4000;
/** One keep-alive pool per protocol and warm instance, shared by every run's store. */
let httpTransport: Transport | undefined;
let httpsTransport: Promise<Transport> | undefined;
/** node:https (and TLS with it) loads only for an https endpoint, not on every cold start. */
function transportFor(protocol: string): Transport | Promise<Transport> {
  if (protocol !== 'https:') {
    httpTransport ??= {
      request: httpRequest,
      agent: new HttpAgent({ keepAlive: true, timeout: 30_000 }),
      lastUsedAt: 0,
    };
    return httpTransport;
  }
  httpsTransport ??= import('node:https').then(({ Agent, request }) => ({
    request,
    agent: new Agent({ keepAlive: true, timeout: 30_000 }),
    lastUsedAt: 0,
  }));
  return httpsTransport;
}

/** In-flight requests keep their sockets; only the pool's free ones go. */
function closeIdleSockets(agent: HttpAgent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}

export class TablestoreConnection {
  readonly #options: TablestoreConnectionOptions;
  readonly #clock: Clock;
  readonly #endpoint: URL;

  constructor(options: TablestoreConnectionOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#endpoint = new URL(options.endpoint);
    if (this.#endpoint.protocol !== 'http:' && this.#endpoint.protocol !== 'https:') {
      throw new StateStoreError(
        'InvalidConfiguration',
        `the Tablestore endpoint must be http(s)://, not ${this.#endpoint.protocol}`,
      );
    }
  }

  /** The store's table, for messages (a call may be on its counters table). */
  get #table(): string {
    return this.#options.table;
  }

  /** One POST; resolves once the whole answer is read (at most MAX_ANSWER_BYTES). */
  async #post(operation: string, headers: Record<string, string>, body: Buffer) {
    const transport = await transportFor(this.#endpoint.protocol);
    const { request, agent } = transport;
    // Wall time, not the injected clock: the pool is the module's, shared by stores on any clock,
    // and a socket's idleness is real time.
    const now = performance.now();
    if (now - transport.lastUsedAt > MAX_IDLE_REUSE_MS) closeIdleSockets(agent);
    transport.lastUsedAt = now;
    const timeoutMs = this.#options.timeoutMs ?? 5000;
    return new Promise<RawAnswer>((resolve, reject) => {
      const outgoing = request(
        {
          protocol: this.#endpoint.protocol,
          // An IPv6 literal comes bracketed in a URL; node's request wants the bare address.
          hostname: this.#endpoint.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.#endpoint.port,
          path: `/${operation}`,
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'content-type': 'application/x-protobuf',
            'content-length': String(body.length),
          },
        },
        (response: IncomingMessage) => {
          readLimited(response).then(
            (answer) =>
              resolve({
                statusCode: response.statusCode ?? 0,
                answerMd5: response.headers['x-ots-contentmd5'],
                requestId: response.headers['x-ots-requestid'],
                answer,
              }),
            reject,
          );
        },
      );
      // A plain timer, not AbortSignal.timeout: loading the abort machinery showed in the cold-start profile.
      const timer = setTimeout(
        () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      outgoing.on('close', () => {
        clearTimeout(timer);
        transport.lastUsedAt = performance.now();
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /** One signed call; resolves to the answer's body, rejects with a StateStoreError. */
  async #send(operation: string, body: Buffer): Promise<Buffer> {
    const headers = signOtsRequest({
      operation,
      body,
      instance: this.#options.instance,
      credentials: this.#options.credentials,
      nowMs: this.#clock.now(),
    });
    let answered: RawAnswer;
    try {
      answered = await this.#post(operation, headers, body);
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      throw (
        untrustedCertificate(operation, this.#options, error) ??
        otsError('NetworkingError', operation, this.#options, { cause: error })
      );
    }
    const { statusCode, answerMd5, answer } = answered;
    const requestId = requestIdOf(answered.requestId);
    // Tablestore signs every answer of its own with both (the official SDKs refuse one without):
    // a 200 lacking them came from something else at TABLESTORE_ENDPOINT, and saying "applied" or
    // "no such row" on its word would lose writes. An error without them may be Tablestore's front
    // end, so it stays an error of its status, retryable or not as that says.
    if (statusCode === 200 && (typeof answerMd5 !== 'string' || requestId === undefined)) {
      throw this.#notTablestore(operation, statusCode);
    }
    if (typeof answerMd5 === 'string' && answerMd5 !== md5Base64(answer)) {
      throw otsError('InvalidResponse', operation, this.#options, { requestId });
    }
    if (statusCode !== 200) {
      let error: { code: string | undefined; message: string } = { code: undefined, message: '' };
      if (requestId !== undefined) {
        try {
          error = errorOf(answer);
        } catch {
          // A malformed error body: the HTTP status is all there is.
        }
      }
      throw otsError(error.code ?? `HTTP${statusCode}`, operation, this.#options, {
        message: error.message,
        requestId,
      });
    }
    return answer;
  }

  #notTablestore(operation: string, statusCode: number): StateStoreError {
    return new StateStoreError(
      'NotTablestore',
      `Tablestore ${operation} on table ${this.#table} got an HTTP ${statusCode} answer without Tablestore's x-ots-contentmd5 and x-ots-requestid headers from ${this.#endpoint.origin}: ` +
        "not Tablestore (a proxy, a captive portal, another service) — set TABLESTORE_ENDPOINT to the instance's own endpoint " +
        '(https://<instance>.<region>.ots.aliyuncs.com, or https://<instance>.<region>.vpc.tablestore.aliyuncs.com from the VPC), or leave it empty',
      { variable: 'TABLESTORE_ENDPOINT' },
    );
  }

  /** One call, repeated (with backoff) while that cannot apply it twice. */
  async call(operation: string, body: Buffer): Promise<Buffer> {
    const maxRetries = this.#options.maxRetries ?? 3;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#send(operation, body);
      } catch (error) {
        const failure = error as StateStoreError;
        const repeatable = failure.retryable && (IDEMPOTENT.has(operation) || NOT_APPLIED.has(failure.code));
        if (!repeatable || attempt >= maxRetries) throw failure;
        await this.#clock.sleep(RETRY_BASE_MS * 2 ** attempt);
      }
    }
  }

  /** Decodes an answer, turning any malformed byte into a StateStoreError naming the operation. */
  decode<T>(operation: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      if (error instanceof WireFormatError) {
        throw new StateStoreError(
          'InvalidResponse',
          `Tablestore ${operation} on table ${this.#table} answered a malformed body (${error.message})`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}

function md5Base64(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}

/** Plain events, not `for await`: the async-iterator machinery showed in the cold-start profile. */
function readLimited(body: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) {
        body.destroy();
        reject(new StateStoreError('InvalidResponse', 'Tablestore answered more than 16 MB'));
        return;
      }
      chunks.push(chunk);
    });
    body.on('end', () => resolve(Buffer.concat(chunks)));
    body.on('error', reject);
    // An answer cut off mid-body closes without 'end': a network failure, never a short answer.
    body.on('close', () => {
      if (!body.complete) reject(new Error('the answer was cut off'));
    });
  });
}

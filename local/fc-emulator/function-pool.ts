/**
 * A function as FC 3.0 runs it with a built-in runtime (`nodejs20`): one request per instance at a
 * time, a warm idle instance reused (its module state intact), a new instance started when all
 * are busy, up to a cap (`concurrencyConfig.reservedConcurrency`), and beyond the cap a 429 at
 * once, never a queue. See ../../shared/ref/fc-runtime.md (in /work/shared/ref).
 *
 * Instances are worker threads rather than child processes: a thread starts in ~20 ms against
 * ~50+ ms for a process, yet still gives each instance its own module cache (a fresh `require` of
 * the bundle), its own globals and timers, and — through the `env` option — its own process.env
 * holding only what FC would set, never this process's variables. `process.exit` or an uncaught
 * exception ends only that thread, which is what a crashing FC instance looks like from outside.
 * Between invocations an instance is frozen, as FC freezes one once it has answered (instance.cjs);
 * its V8 heap is capped at the function's memory size (Buffers are not: see `memoryMb`).
 */
import { randomUUID } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Credentials } from '../../shared/cams/types';
import { type FcContext, fcContext } from './events';
import { type FcInvocationError, THROTTLED, unhandled } from './fc-errors';

/** s.yaml's cap for the HTTP function when none is configured; FC's own default is the account's. */
export const DEFAULT_MAX_INSTANCES = 10;

export interface FcFunctionOptions {
  /** The built bundle, e.g. `dist/http/index.js`: FC's `code` folder plus the handler's file. */
  readonly bundle: string;
  /**
   * The function's `environmentVariables` as s.yaml resolves them. An instance sees these plus the
   * variables FC itself sets (`FC_FUNCTION_NAME`, …, and the role's `ALIBABA_CLOUD_*` keys) —
   * nothing else from this process.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly functionName?: string;
  /** The exported handler's name (s.yaml `handler: index.handler`). Default `handler`. */
  readonly exportName?: string;
  /** s.yaml `timeout`; fractions are allowed so tests can stay quick. Default 10. */
  readonly timeoutSeconds?: number;
  /**
   * s.yaml `memorySize`. Default 256. It caps the instance's V8 heap: past it the instance dies
   * as an FC instance killed for running out of memory does. Buffers and other memory outside the
   * heap (and Node's own) are not counted, so the emulator is still kinder than FC, which counts
   * everything the instance holds.
   */
  readonly memoryMb?: number | undefined;
  /** `concurrencyConfig.reservedConcurrency`: instances (= concurrent requests) at most. */
  readonly maxInstances?: number;
  /** The RAM role's credentials, handed to every invocation in `context.credentials`. */
  readonly credentials?: Credentials | undefined;
  /** Given only when set: FC_REGION also picks Tablestore's public endpoint, never wanted locally. */
  readonly region?: string;
  /** Where instances' stdout/stderr lines go (FC: the SLS logstore). Default: this process's stdout. */
  readonly log?: (line: string) => void;
}

export type FcInvocation =
  | { readonly ok: true; readonly value: unknown; readonly instanceId: number }
  | { readonly ok: false; readonly error: FcInvocationError; readonly instanceId?: number };

export interface FcFunctionStats {
  readonly instancesStarted: number;
  readonly instancesAlive: number;
  readonly busy: number;
  readonly requests: number;
  /** Answered 429 because every instance up to the cap was busy. */
  readonly throttled: number;
  readonly crashed: number;
  readonly timedOut: number;
}

/**
 * How long an instance may take to load its bundle. FC's invocation timeout starts once the code
 * is loaded, so a slow cold start (many instances starting at once on a small machine) must not
 * eat into it; this only catches a bundle that never finishes loading.
 */
const INSTANCE_START_TIMEOUT_MS = 60_000;

interface Instance {
  readonly id: number;
  readonly worker: Worker;
  /** Shared with the instance, which stays frozen (blocked on it) until the pool stores 1. */
  readonly thawSignal: Int32Array;
  isReady: boolean;
  /** Sends the waiting invocation once the bundle is loaded. */
  dispatchWhenReady: (() => void) | undefined;
  settle: ((invocation: FcInvocation) => void) | undefined;
  crash: Error | undefined;
}

type Reply =
  | { kind: 'ready' }
  | { kind: 'loadFailed'; errorType: string; errorMessage: string }
  | { kind: 'result'; ok: true; value: unknown }
  | { kind: 'result'; ok: false; errorType: string; errorMessage: string };

const INSTANCE_SCRIPT = join(__dirname, 'instance.cjs');

export class FcFunction {
  readonly name: string;
  readonly timeoutSeconds: number;
  readonly maxInstances: number;
  readonly memoryMb: number;
  private readonly options: FcFunctionOptions;
  private readonly instances = new Set<Instance>();
  /** Most recently freed last: FC keeps reusing the warmest instance. */
  private readonly idle: Instance[] = [];
  private counts = { instancesStarted: 0, requests: 0, throttled: 0, crashed: 0, timedOut: 0 };
  private isClosed = false;

  constructor(options: FcFunctionOptions) {
    const maxInstances = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
    if (!Number.isInteger(maxInstances) || maxInstances < 1) {
      throw new Error(`maxInstances must be a positive integer, got ${maxInstances}`);
    }
    const reserved = Object.keys(options.env).filter((name) => name.startsWith('FC_'));
    if (reserved.length)
      throw new Error(`FC reserves variable names starting with FC_: ${reserved.join(', ')}`);
    this.options = options;
    this.name = options.functionName ?? basename(dirname(options.bundle));
    this.timeoutSeconds = options.timeoutSeconds ?? 10;
    this.maxInstances = maxInstances;
    this.memoryMb = options.memoryMb ?? 256;
  }

  /** One invocation, as FC's invoke path does it: an idle instance, a new one, or 429. */
  invoke(
    event: Buffer,
    input: { credentials?: Credentials | undefined; requestId?: string } = {},
  ): Promise<FcInvocation> {
    if (this.isClosed) return Promise.reject(new Error(`function ${this.name} is closed`));
    this.counts.requests += 1;
    let instance = this.idle.pop();
    if (!instance) {
      if (this.instances.size >= this.maxInstances) {
        this.counts.throttled += 1;
        return Promise.resolve({ ok: false, error: THROTTLED });
      }
      instance = this.startInstance();
    }
    const context: FcContext = fcContext({
      requestId: input.requestId ?? randomUUID(),
      credentials: 'credentials' in input ? input.credentials : this.options.credentials,
      timeoutSeconds: this.timeoutSeconds,
      functionName: this.name,
    });
    const running = instance;
    return new Promise<FcInvocation>((resolve) => {
      const fail = (counter: 'timedOut' | 'crashed', error: FcInvocationError) => {
        this.counts[counter] += 1;
        running.settle = undefined;
        this.retire(running);
        resolve({ ok: false, instanceId: running.id, error });
      };
      let timer = setTimeout(
        () =>
          fail('crashed', unhandled('InstanceStartTimeout', 'the instance did not finish loading the code')),
        INSTANCE_START_TIMEOUT_MS,
      );
      running.settle = (invocation) => {
        clearTimeout(timer);
        running.settle = undefined;
        resolve(invocation);
      };
      const dispatch = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () =>
            fail(
              'timedOut',
              unhandled('FunctionTimeout', `Function timed out after ${this.timeoutSeconds} seconds`),
            ),
          this.timeoutSeconds * 1000,
        );
        running.worker.postMessage({ event: new Uint8Array(event), context });
        thaw(running);
      };
      if (running.isReady) dispatch();
      else running.dispatchWhenReady = dispatch;
    });
  }

  stats(): FcFunctionStats {
    return {
      ...this.counts,
      instancesAlive: this.instances.size,
      busy: this.instances.size - this.idle.length,
    };
  }

  /** Terminates every instance; an invocation still running answers 502. */
  async close(): Promise<void> {
    this.isClosed = true;
    const workers = [...this.instances].map((instance) => instance.worker);
    for (const instance of [...this.instances]) this.retire(instance);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private startInstance(): Instance {
    const id = this.counts.instancesStarted + 1;
    this.counts.instancesStarted = id;
    const thawSignal = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(INSTANCE_SCRIPT, {
      workerData: {
        bundle: this.options.bundle,
        exportName: this.options.exportName ?? 'handler',
        thawSignal: thawSignal.buffer,
      },
      env: this.instanceEnv(id),
      resourceLimits: { maxOldGenerationSizeMb: this.memoryMb },
      stdout: true,
      stderr: true,
    });
    const instance: Instance = {
      id,
      worker,
      thawSignal,
      isReady: false,
      dispatchWhenReady: undefined,
      settle: undefined,
      crash: undefined,
    };
    this.instances.add(instance);
    this.forwardLines(worker.stdout);
    this.forwardLines(worker.stderr);
    worker.on('message', (reply: Reply) => {
      if (reply.kind === 'ready') {
        instance.isReady = true;
        const dispatch = instance.dispatchWhenReady;
        instance.dispatchWhenReady = undefined;
        dispatch?.();
        return;
      }
      const settle = instance.settle;
      instance.settle = undefined;
      if (reply.kind === 'loadFailed') {
        // FC reports code that fails to load as the invocation's error; the next one starts afresh.
        this.counts.crashed += 1;
        this.retire(instance);
        settle?.({ ok: false, instanceId: id, error: unhandled(reply.errorType, reply.errorMessage) });
        return;
      }
      if (!settle) return;
      if (!this.isClosed) this.idle.push(instance);
      settle(
        reply.ok
          ? { ok: true, value: reply.value, instanceId: id }
          : { ok: false, instanceId: id, error: unhandled(reply.errorType, reply.errorMessage) },
      );
    });
    worker.on('error', (error) => {
      instance.crash = error;
    });
    worker.on('exit', (code) => {
      const settle = instance.settle;
      instance.settle = undefined;
      if (this.instances.has(instance)) {
        this.counts.crashed += 1;
        this.retire(instance);
      }
      settle?.({
        ok: false,
        instanceId: id,
        error: unhandled(
          instance.crash?.name ?? 'ProcessExited',
          `Process exited unexpectedly before completing request (code ${code}${instance.crash ? `: ${instance.crash.message}` : ''})`,
        ),
      });
    });
    return instance;
  }

  /** Takes an instance out of service for good (FC recycles a crashed or timed-out instance). */
  private retire(instance: Instance): void {
    this.instances.delete(instance);
    instance.dispatchWhenReady = undefined;
    const index = this.idle.indexOf(instance);
    if (index >= 0) this.idle.splice(index, 1);
    const settle = instance.settle;
    instance.settle = undefined;
    settle?.({
      ok: false,
      instanceId: instance.id,
      error: unhandled('InstanceStopped', 'the instance was stopped before completing the request'),
    });
    void instance.worker.terminate();
  }

  private instanceEnv(instanceId: number): Record<string, string> {
    const { credentials, region } = this.options;
    return {
      ...this.options.env,
      FC_FUNCTION_NAME: this.name,
      FC_FUNCTION_HANDLER: `index.${this.options.exportName ?? 'handler'}`,
      FC_FUNCTION_MEMORY_SIZE: String(this.memoryMb),
      FC_INSTANCE_ID: `local-${this.name}-${instanceId}`,
      ...(region ? { FC_REGION: region } : {}),
      ...(credentials
        ? {
            ALIBABA_CLOUD_ACCESS_KEY_ID: credentials.accessKeyId,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET: credentials.accessKeySecret,
            ...(credentials.securityToken ? { ALIBABA_CLOUD_SECURITY_TOKEN: credentials.securityToken } : {}),
          }
        : {}),
    };
  }

  private forwardLines(stream: NodeJS.ReadableStream): void {
    const log = this.options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
    });
    stream.on('end', () => {
      if (pending) log(pending);
    });
  }
}

/** Wakes a frozen instance: what it left pending runs first, then the invocation just posted. */
function thaw(instance: Instance): void {
  Atomics.store(instance.thawSignal, 0, 1);
  Atomics.notify(instance.thawSignal, 0);
}

/**
 * What Function Compute does around a handler, for tests, `npm start` and the bench: FC 3.0's
 * event Buffers and context (`events.ts`), a function run as FC runs it — one request per
 * instance, each instance a worker thread with its own module state, frozen between invocations
 * and its heap capped at the memory size, 429 beyond the cap
 * (`function-pool.ts`) — and the HTTP trigger in front of it (`http-trigger.ts`).
 */
export {
  type FcContext,
  type FcHandler,
  type FcHttpEventInput,
  fcContext,
  fcHttpEvent,
  fcTimerEvent,
  loadBundle,
} from './events';
export type { FcErrorType, FcInvocationError } from './fc-errors';
export {
  DEFAULT_MAX_INSTANCES,
  FcFunction,
  type FcFunctionOptions,
  type FcFunctionStats,
  type FcInvocation,
} from './function-pool';
export { type FcHttpServer, serveFcHttp } from './http-trigger';

export { DEFAULT_INTERVALS_S, type PollerConfig, parsePollerConfig } from './config';
export { changeEventId } from './event-id';
export { type FlowRecord, flowKey, type OutboxEntry } from './records';
export {
  type LogEntry,
  type PollerDependencies,
  type RunOptions,
  type RunSummary,
  runPoller,
  saveMarginMs,
} from './run';
export { parseWatchCustSpaces, parseWatchFlows, type WatchedFlow } from './watch-list';

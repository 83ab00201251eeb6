export { DEFAULT_INTERVALS_S, type PollerConfig, parsePollerConfig } from './config';
export { changeEventId } from './event-id';
export {
  type DeliveryState,
  deliveryStateSchema,
  type EndpointDelivery,
  type HistoryEntry,
  historyEntrySchema,
  MAX_HISTORY,
} from './history';
export { FLOW_PREFIX, type FlowRecord, flowKey, type OutboxEntry } from './records';
export { holdsEvent, type RequeueResult, requeueEvent } from './redelivery';
export {
  type LogEntry,
  type PollerDependencies,
  type RunOptions,
  type RunSummary,
  runPoller,
  saveMarginMs,
} from './run';
export { parseWatchCustSpaces, parseWatchFlows, type WatchedFlow } from './watch-list';

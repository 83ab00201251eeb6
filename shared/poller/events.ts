import type { FlowEvent } from '../webhook';
import { changeEventId } from './event-id';
import type { HistoryEntry } from './history';
import type { FlowRecord } from './records';

/** The event for a status change the record has not taken in yet. */
export function statusChangedEvent(record: FlowRecord, status: string, observedAt: string): FlowEvent {
  return changeEvent(record, 'flow.status_changed', status, observedAt);
}

/** The event for a flow that vanished; `REMOVED` only feeds the id, it is no CAMS status. */
export function removedEvent(record: FlowRecord, observedAt: string): FlowEvent {
  return changeEvent(record, 'flow.removed', 'REMOVED', observedAt);
}

/**
 * The event a history entry stands for, rebuilt as first announced (same id, same body): the
 * entry keeps the record's fields of that moment that the event was made from.
 */
export function eventFromHistory(
  record: Pick<FlowRecord, 'flowId' | 'custSpaceId'>,
  entry: HistoryEntry,
): FlowEvent {
  const before = {
    flowId: record.flowId,
    custSpaceId: record.custSpaceId,
    flowName: entry.flowName,
    status: entry.from,
    statusSince: entry.previousObservedAt,
  };
  return changeEvent(before, entry.type, entry.to, entry.observedAt);
}

function changeEvent(
  record: Pick<FlowRecord, 'flowId' | 'custSpaceId' | 'flowName' | 'status' | 'statusSince'>,
  type: 'flow.status_changed' | 'flow.removed',
  status: string,
  observedAt: string,
): FlowEvent {
  return {
    id: changeEventId({
      custSpaceId: record.custSpaceId,
      flowId: record.flowId,
      previousStatus: record.status,
      status,
      previousObservedAt: record.statusSince,
    }),
    type,
    timestamp: observedAt,
    data: {
      flowId: record.flowId,
      ...(record.custSpaceId ? { custSpaceId: record.custSpaceId } : {}),
      flowName: record.flowName,
      ...(record.status ? { previousStatus: record.status } : {}),
      ...(type === 'flow.status_changed' ? { status } : {}),
      observedAt,
      ...(record.statusSince ? { previousObservedAt: record.statusSince } : {}),
    },
  };
}
